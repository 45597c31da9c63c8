"""Several inference workers (DIGITS_INFERENCE_WORKERS) behind one call(), for classify/infer/export:
requests of different users run side by side, each worker keeping its own models loaded.

Routing: a request for a model takes a free worker that has that model warm, else the free worker
that has the fewest models loaded (a running process before one that has to start). Which models a
worker has is mirrored here from what it was asked to load, with the worker's own cache rules
(loader.ModelCache: least recently used dropped past DIGITS_INFERENCE_CACHE models), so a model the
worker has dropped is not counted as warm; a wrong guess costs one load, never a wrong answer.

Waiting: when every worker is busy, requests queue first come, first served, each up to
service.QUEUE_TIMEOUT, then get a 503. A worker is held only while it computes, so a slow request
holds up others by at most the queue timeout, and only when all the workers are busy.

A crash or a timeout is handled by the worker's InferenceService as with one worker (the process is
stopped, the request gets a clear error, a new process starts with that worker's next request); the
pool forgets the models that process had.
"""
import collections
import os
import threading
import time

from digits.inference import service as _service
from digits.inference.errors import InferenceError
from digits.utils.cpu import usable_cores

DEFAULT_CACHE_SIZE = 4   # loader.DEFAULT_CACHE_SIZE (loader imports torch, which this process must not)


def model_key(spec):
    """What a worker's cache knows a model by, without its files' mtimes (loader.cache_key[:2]: the cache
    drops an older version of the same folder and weights when it loads the new one); None without a model."""
    if not isinstance(spec, dict) or not spec.get("dir") or not spec.get("weights"):
        return None
    return os.path.realpath(spec["dir"]), os.path.realpath(spec["weights"])


def cache_size():
    """The worker's ModelCache size (env DIGITS_INFERENCE_CACHE): a bad value fails in the worker, clearly."""
    try:
        return max(1, int(os.environ.get("DIGITS_INFERENCE_CACHE") or DEFAULT_CACHE_SIZE))
    except ValueError:
        return DEFAULT_CACHE_SIZE


def worker_threads(size):
    """Threads per worker unless DIGITS_INFERENCE_THREADS says: the half of the cores one worker would use
    (loader.configure_threads) shared among them, so that busy workers do not oversubscribe the machine."""
    if os.environ.get("DIGITS_INFERENCE_THREADS"):
        return None
    return max(1, min(8, usable_cores() // 2) // size)


class Worker:
    """One InferenceService and what the pool knows of it: busy or not, the models it has loaded."""

    def __init__(self, index, service, size):
        self.index = index
        self.service = service
        self.size = size
        self.busy = False
        self.models = collections.OrderedDict()   # model_key → None, least recently used first
        self.last_used = 0.0

    @property
    def running(self):
        return self.service.pid is not None

    def has(self, key):
        return key is not None and key in self.models and self.running

    def used(self, key):
        """After a request that succeeded: its model is the most recently used, as in ModelCache.get."""
        self.last_used = time.monotonic()
        if key is None:
            return
        self.models.pop(key, None)
        self.models[key] = None
        while len(self.models) > self.size:
            self.models.popitem(last=False)


class InferencePool:
    """size workers (InferenceServices made with service_args), used as one InferenceService is."""

    def __init__(self, size, cache_models=None, env=None, **service_args):
        self.size = size
        threads = worker_threads(size)
        env = dict({"DIGITS_INFERENCE_THREADS": str(threads)} if threads else {}, **(env or {}))
        self.workers = [Worker(i, _service.InferenceService(env=env, **service_args), cache_models or cache_size())
                        for i in range(size)]
        self._cond = threading.Condition()   # gevent's when the server has patched threading
        self._waiting = collections.deque()

    # ----- public
    def call(self, op, timeout=None, **fields):
        """InferenceService.call on a free worker (the one with the model warm when it is free)."""
        key = model_key(fields.get("model"))
        worker = self._acquire(key)
        succeeded = False
        try:
            result = worker.service.call(op, timeout=timeout, **fields)
            succeeded = True
            return result
        finally:
            self._release(worker, key if succeeded else None)

    def warm_up(self):
        """Starts every worker in the background, so the first requests do not wait for torch to load."""
        for worker in self.workers:
            threading.Thread(target=self._warm, args=(worker,), name=f"inference-warm-up-{worker.index}",
                             daemon=True).start()

    def close(self):
        for worker in self.workers:
            worker.service.close()

    # ----- the queue
    def _acquire(self, key):
        deadline = time.monotonic() + _service.QUEUE_TIMEOUT
        ticket = object()
        with self._cond:
            self._waiting.append(ticket)
            try:
                while True:
                    worker = self._pick(key) if self._waiting[0] is ticket else None
                    if worker is not None:
                        worker.busy = True
                        return worker
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise InferenceError(
                            f"all {self.size} inference worker{'s' if self.size > 1 else ''} have been busy with "
                            f"other requests for {_service.QUEUE_TIMEOUT:g} s; try again when they are done "
                            f"(DIGITS_INFERENCE_WORKERS sets how many there are)", 503, "Busy")
                    self._cond.wait(remaining)
            finally:
                self._waiting.remove(ticket)
                self._cond.notify_all()   # the next in line may take another free worker

    def _pick(self, key):
        free = [w for w in self.workers if not w.busy]
        warm = [w for w in free if w.has(key)]
        if warm:
            return warm[0]
        if not free:
            return None
        if key is None:   # a request without a model (ping): the first running worker
            return min(free, key=lambda w: (not w.running, w.index))
        return min(free, key=lambda w: (not w.running, len(w.models), w.last_used, w.index))

    def _release(self, worker, key):
        with self._cond:
            if not worker.running:   # it crashed or timed out: a new process starts with nothing loaded
                worker.models.clear()
            else:
                worker.used(key)
            worker.busy = False
            self._cond.notify_all()

    def _warm(self, worker):
        with self._cond:
            if worker.busy:
                return
            worker.busy = True
        try:
            worker.service.call("ping", timeout=_service.START_TIMEOUT)
        except InferenceError:
            pass   # that worker's next request reports it
        finally:
            self._release(worker, None)
