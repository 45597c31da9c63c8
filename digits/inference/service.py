"""The server's side of inference: a worker subprocess (digits.inference.worker) per InferenceService,
started on first use and restarted after it dies; get_service() gives each purpose its own workers.

Why a subprocess: a model that segfaults, leaks or spins cannot take the web server down, and the
server only waits on a pipe (cooperatively under gevent) while the worker computes. The worker keeps
models loaded between requests (see loader.ModelCache), so only the first request per snapshot
pays for building the network.

An InferenceService serializes its requests (one in flight): the worker computes one batch at a time
anyway. Classification and inference use an InferencePool (digits.inference.pool) of
DIGITS_INFERENCE_WORKERS of them, routing each request to a worker with its model warm; a ServicePool
runs the network checks, each request in a fresh worker of its own.
"""
import atexit
import collections
import functools
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time

from digits import sandbox
from digits.inference.errors import InferenceError

DEFAULT_TIMEOUT = float(os.environ.get("DIGITS_INFERENCE_TIMEOUT", 600))
# How long a request waits for the ones ahead of it before the user is told the worker is busy.
QUEUE_TIMEOUT = float(os.environ.get("DIGITS_INFERENCE_QUEUE_TIMEOUT", 300))
START_TIMEOUT = 180.0
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class _WorkerGone(Exception):
    pass


class _TimedOut(Exception):
    pass


class InferenceService:
    """env: variables set in the worker on top of the allowlisted part of ours (sandbox.child_environment);
    limits: sandbox.child_setup's arguments (nice, memory_mb, user), applied in the worker before exec."""

    def __init__(self, command=None, env=None, limits=None):
        self.command = command or [sys.executable, "-m", "digits.inference.worker"]
        self.env = env
        self.limits = dict(limits or {})
        self.restarts = -1        # counts starts after the first
        self._proc = None
        self._buffer = b""
        self._next_id = 0
        self._lock = threading.Lock()
        self._stderr_tail = collections.deque(maxlen=30)

    # ----- public
    def call(self, op, timeout=None, **fields):
        """Runs one request; returns its result dict or raises InferenceError (status = HTTP status)."""
        timeout = DEFAULT_TIMEOUT if timeout is None else float(timeout)
        if not self._lock.acquire(timeout=QUEUE_TIMEOUT):
            raise InferenceError(f"the inference worker has been busy with other requests for {QUEUE_TIMEOUT:g} s; "
                                 "try again when they are done", 503, "Busy")
        try:
            self._ensure_started()
            self._next_id += 1
            self._send(dict(fields, op=op, id=self._next_id))
            response = self._receive(self._next_id, time.monotonic() + timeout)
        except _WorkerGone as exc:
            code = self._stop()
            tail = " | ".join(list(self._stderr_tail)[-3:])
            raise InferenceError(f"the inference worker stopped during the request ({exc}, exit code {code})"
                                 f"{': ' + tail if tail else ''}; a new worker starts with the next request",
                                 500, "WorkerCrashed", exit_code=code) from None
        except _TimedOut:
            self._stop()
            raise InferenceError(f"inference did not finish within {timeout:g} s; the worker was stopped "
                                 f"and a new one starts with the next request", 504, "Timeout") from None
        finally:
            self._lock.release()
        if not response.get("ok"):
            error = response.get("error") or {}
            raise InferenceError(error.get("message", "inference failed"), int(error.get("status", 500)),
                                 error.get("type", "InferenceError"))
        return response["result"]

    def warm_up(self):
        """Starts the worker in the background, so the first classify does not wait for torch to load."""
        def start():
            try:
                self.call("ping", timeout=START_TIMEOUT)
            except InferenceError:
                pass   # the next request reports it
        threading.Thread(target=start, name="inference-warm-up", daemon=True).start()

    def replace_worker(self):
        """Stops the worker and starts a fresh one in the background, for the next request."""
        with self._lock:
            self._stop()
        self.warm_up()

    @property
    def pid(self):
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def close(self):
        with self._lock:
            self._stop(graceful=True)

    # ----- the worker process
    def _ensure_started(self):
        if self._proc is not None and self._proc.poll() is None:
            return
        self._stop()
        env = sandbox.child_environment(self.env, self.limits.get("user"))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        setup = functools.partial(sandbox.child_setup, **self.limits) if self.limits else None
        try:
            self._proc = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, env=env, bufsize=0, preexec_fn=setup)
        except OSError as exc:
            raise InferenceError(f"cannot start the inference worker: {exc}", 500, "WorkerCrashed") from None
        self.restarts += 1
        self._buffer = b""
        threading.Thread(target=self._drain_stderr, args=(self._proc,), name="inference-stderr",
                         daemon=True).start()
        self._receive(None, time.monotonic() + START_TIMEOUT)   # the "ready" line

    def _drain_stderr(self, proc):
        for raw in iter(proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            self._stderr_tail.append(line)
            print(f"[inference worker {proc.pid}] {line}", file=sys.stderr, flush=True)

    def _stop(self, graceful=False):
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if graceful and proc.poll() is None:
            try:
                proc.stdin.close()   # the worker exits at end of input
                proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if proc.poll() is None:
            proc.kill()
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            return None

    def _send(self, request):
        data = (json.dumps(request) + "\n").encode("utf-8")
        try:
            # An unbuffered pipe may take part of the data, and under gevent it does so at ~64 KiB:
            # loop, or a big upload's line would arrive cut short and the worker would wait forever.
            view = memoryview(data)
            while view:
                written = self._proc.stdin.write(view)
                view = view[written if written is not None else 0:]
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise _WorkerGone(f"cannot send the request: {exc}") from None

    def _receive(self, request_id, deadline):
        """The response line for request_id (lines for other ids — none expected — are skipped)."""
        fd = self._proc.stdout.fileno()
        while True:
            while b"\n" not in self._buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _TimedOut()
                readable, _, _ = select.select([fd], [], [], min(remaining, 1.0))
                if not readable:
                    if self._proc.poll() is not None:
                        raise _WorkerGone("it exited")
                    continue
                try:
                    chunk = os.read(fd, 1 << 20)
                except BlockingIOError:
                    continue
                except OSError as exc:
                    raise _WorkerGone(str(exc)) from None
                if not chunk:
                    raise _WorkerGone("it closed its output")
                self._buffer += chunk
            line, self._buffer = self._buffer.split(b"\n", 1)
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict) and message.get("id") == request_id:
                return message


class ServicePool:
    """Several workers (InferenceServices) for one purpose: a request takes a free one, so a user's
    network that loops until its timeout holds up nobody else's request by more than that timeout.
    Each worker serves one request and is then replaced (started again at once, in the background):
    a request never meets what an earlier user's code left in the process, and a CPU-time limit set
    for one request (sandbox.limit_cpu) can be final."""

    def __init__(self, size, **service_args):
        self.size = size
        self._services = [InferenceService(**service_args) for _ in range(size)]
        self._free = queue.Queue()
        for service in self._services:
            self._free.put(service)

    def call(self, op, timeout=None, **fields):
        try:
            service = self._free.get(timeout=QUEUE_TIMEOUT)
        except queue.Empty:
            raise InferenceError(f"all {self.size} workers have been busy with other requests for "
                                 f"{QUEUE_TIMEOUT:g} s; try again when they are done", 503, "Busy") from None
        try:
            return service.call(op, timeout=timeout, **fields)
        finally:
            service.replace_worker()
            self._free.put(service)

    def close(self):
        for service in self._services:
            service.close()


_services = {}
_service_lock = threading.Lock()
_inference_workers = None   # set by configure() from the app's config; else DIGITS_INFERENCE_WORKERS


def configure(inference_workers):
    """The number of inference workers get_service() gives "inference" (create_app sets it)."""
    global _inference_workers
    _inference_workers = int(inference_workers)


def get_service(purpose="inference", workers=None, **limits):
    """The process-wide service for a purpose (and settings), each with its own workers: "inference"
    (classify, infer, export: an InferencePool of configure()'s size) and "checks" (building users'
    networks at submit time and for Visualize), so a network that loops until its timeout never holds
    up anybody's classification, nor empties its model cache. "checks" with workers: a ServicePool of
    that many, under limits (sandbox.child_setup's), on the CPU (a check needs no GPU, and CUDA's
    start-up allocations would count against the limit)."""
    if purpose == "inference" and workers is None:
        if _inference_workers is None:
            from digits.config import inference_workers
            configure(inference_workers())
        workers = _inference_workers
    key = (purpose, workers, tuple(sorted(limits.items())))
    with _service_lock:
        if key not in _services:
            if purpose == "inference":
                from digits.inference.pool import InferencePool   # it builds on this module
                _services[key] = InferencePool(workers, limits=limits)
            elif workers:
                _services[key] = ServicePool(workers, env={"CUDA_VISIBLE_DEVICES": ""}, limits=limits)
            else:
                _services[key] = InferenceService(limits=limits)
            atexit.register(_services[key].close)
        return _services[key]
