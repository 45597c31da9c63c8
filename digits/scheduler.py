"""Queues jobs, waits for their dependencies, holds resource pools and runs tasks as subprocesses."""
import logging
import os
import shutil
import signal
import subprocess
import threading
import time

from digits import device, sandbox
from digits.job import Job, discard_on_error
from digits.resources import ResourcePools
from digits.status import Status

log = logging.getLogger("digits.scheduler")
GPU_REPORT_SECONDS = 2.0


class NullEmitter:
    """Receives job/task events; the web app plugs Socket.IO in here."""

    def job_update(self, job, update, **data):
        pass

    def task_update(self, job, task, update, **data):
        pass


def _kill_orphan(task, job_dir):
    """A server killed with SIGKILL leaves its task subprocesses running: stop them before rerunning."""
    if not task.pid:
        return
    try:
        with open(f"/proc/{task.pid}/cmdline", "rb") as f:
            cmdline = f.read().decode(errors="replace")
    except OSError:
        cmdline = ""
    if job_dir in cmdline:   # the pid may have been reused by an unrelated process
        log.warning("stopping task %s left running by the previous server (pid %s)", task.name, task.pid)
        try:
            os.killpg(task.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        deadline = time.time() + 5
        while os.path.exists(f"/proc/{task.pid}") and time.time() < deadline:
            time.sleep(0.05)
    task.pid = None


class Scheduler:
    def __init__(self, config, emitter=None, gpus=None):
        self.config = config
        self.jobs_dir = config["jobs_dir"]
        self.emitter = emitter or NullEmitter()
        self.pools = ResourcePools(config, gpus)
        self.jobs = {}
        self._procs = {}           # job id -> Popen of its running task
        self._aborting = set()
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._running = False
        self._thread = None
        self._unsaved = set()      # ids of jobs whose last save failed (logged once until one works)

    # ----- lifecycle
    def load_jobs(self):
        """Loads every job folder; interrupted jobs go back in the queue."""
        os.makedirs(self.jobs_dir, exist_ok=True)
        for name in sorted(os.listdir(self.jobs_dir)):
            job_dir = os.path.join(self.jobs_dir, name)
            if not os.path.isdir(job_dir) or name.startswith("."):
                continue
            job = Job.load(job_dir)
            self.jobs[job.id] = job
            if job.load_error:
                log.warning("job %s: %s", job.id, job.load_error)
            elif job.status in (Status.RUN, Status.WAIT):
                for task in job.tasks:
                    _kill_orphan(task, job.dir)
                self._requeue(job, "server restarted")

    def start(self):
        if self._running:
            return
        self._running = True
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self, abort_running=True):
        self._running = False
        self._wake.set()
        if abort_running:
            for job_id in list(self._procs):
                self._terminate(job_id)
        if self._thread:
            self._thread.join(timeout=10)

    # ----- queue operations
    def add_job(self, job):
        self.add_jobs([job])

    def add_jobs(self, jobs):
        """Queues new jobs, all or none: when one cannot be saved (disk full) the error is raised and
        all their folders are removed, so neither this server nor a restarted one shows any of them."""
        with self._lock, discard_on_error(jobs):
            for job in jobs:
                job.set_status(Status.WAIT)
                for task in job.tasks:
                    task.set_status(Status.WAIT)
                job.save()
            for job in jobs:
                self.jobs[job.id] = job
        for job in jobs:
            self.emitter.job_update(job, "added")
        self._wake.set()

    def get_job(self, job_id):
        return self.jobs.get(job_id)

    def resume_job(self, job):
        """Re-queues an aborted or failed job; finished tasks are kept, the rest run again."""
        if job.status not in (Status.ABORT, Status.ERROR) or job.load_error:
            raise ValueError("only an aborted or failed job can be resumed")
        self._requeue(job, "resumed")
        self.emitter.job_update(job, "status")
        self._wake.set()

    def _requeue(self, job, why):
        with self._lock:
            job.prepare_restart()
            for task in job.tasks:
                if task.status != Status.DONE:
                    task.restarts += 1
                    task.set_status(Status.WAIT)
            job.extra.pop("error", None)
            job.set_status(Status.WAIT)
            job.extra.setdefault("restarts", []).append([why, time.time()])
            self._save(job)

    def abort_job(self, job):
        with self._lock:
            if not job.is_active():
                return False
            self._aborting.add(job.id)
            proc = self._procs.get(job.id)
            if proc is None:
                self._finish(job, Status.ABORT)
                self._aborting.discard(job.id)
                return True
        self._terminate(job.id)
        return True

    def delete_job(self, job):
        if job.is_active():
            self.abort_job(job)
            self._wait_stopped(job.id)
        with self._lock:
            self.jobs.pop(job.id, None)
            shutil.rmtree(job.dir, ignore_errors=True)
        self.emitter.job_update(job, "deleted")

    def dependents(self, job):
        """Jobs that name this one as a dependency (a dataset's models)."""
        return [j for j in self.jobs.values() if job.id in j.dependency_ids()]

    def _wait_stopped(self, job_id, timeout=None):
        deadline = time.time() + (timeout or self.config["abort_grace_seconds"] + 10)
        while job_id in self._procs and time.time() < deadline:
            time.sleep(0.05)

    def _terminate(self, job_id):
        proc = self._procs.get(job_id)
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            return
        threading.Thread(target=self._kill_later, args=(proc,), daemon=True).start()

    def _kill_later(self, proc):
        try:
            proc.wait(timeout=self.config["abort_grace_seconds"])
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    # ----- the loop
    def _loop(self):
        last_gpu_report = 0.0
        while self._running:
            try:
                self._schedule_once()
                if time.time() - last_gpu_report >= GPU_REPORT_SECONDS:
                    last_gpu_report = time.time()
                    self._report_gpus()
            except Exception:  # the loop must survive a bad job
                log.exception("scheduler loop")
            self._wake.wait(0.5)
            self._wake.clear()

    def _report_gpus(self):
        for job_id in list(self._procs):
            job = self.jobs.get(job_id)
            task = next((t for t in job.tasks if t.status == Status.RUN), None) if job else None
            if task and task.gpus:
                self.emitter.task_update(job, task, "gpu_utilization", gpus=device.all_gpus(task.gpus))

    def _schedule_once(self):
        with self._lock:
            # A Running job without a process is between two of its tasks.
            waiting = sorted((j for j in self.jobs.values()
                              if j.status in (Status.WAIT, Status.RUN) and j.id not in self._procs),
                             key=lambda j: j.created)
            for job in waiting:
                blocked = self._dependency_problem(job)
                if blocked == "wait":
                    continue
                if blocked:
                    job.extra["error"] = blocked
                    self._finish(job, Status.ERROR)
                    continue
                task = next((t for t in job.tasks if t.status != Status.DONE), None)
                if task is None:
                    self._finish(job, Status.DONE)
                    continue
                try:
                    grant = self.pools.acquire(task.resources)
                except ValueError as exc:
                    job.extra["error"] = str(exc)
                    self._finish(job, Status.ERROR)
                    continue
                if grant is None:
                    continue
                task.gpus = grant.get("gpus", [])
                self._start_task(job, task, grant)

    def _dependency_problem(self, job):
        for dep_id in job.dependency_ids():
            dep = self.jobs.get(dep_id)
            if dep is None:
                return f"job {dep_id} it depends on was deleted"
            if dep.status in (Status.ERROR, Status.ABORT):
                return f"job {dep.name!r} ({dep_id}) it depends on ended in {dep.status}"
            if dep.status != Status.DONE:
                return "wait"
        return None

    def _start_task(self, job, task, grant):
        task.on_start()
        user = self.config.get("task_user")
        try:
            # The task user writes in its job's folder and must read the paths it is given (a dataset's
            # image folder): said before it starts, rather than as a tool's PermissionError.
            sandbox.give_folder(job.dir, user)
            sandbox.require_readable(user, [a for a in task.args if os.path.isabs(a)])
            log_file = open(job.path(task.log_file), "a", buffering=1)
            # stderr shares the pipe so tracebacks and warnings reach the live log too; lines stay whole
            # because each one is a single write below PIPE_BUF.
            proc = subprocess.Popen(task.command(job), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    env=task.environment(user), cwd=job.dir, text=True, bufsize=1,
                                    preexec_fn=self._new_session)
        except OSError as exc:
            self.pools.release(grant)
            task.error = f"could not start: {exc}"
            task.set_status(Status.ERROR)
            self._finish(job, Status.ERROR)
            return
        task.pid = proc.pid
        self._procs[job.id] = proc
        task.set_status(Status.RUN)
        job.set_status(Status.RUN)
        self._save(job)
        self.emitter.job_update(job, "status")
        self.emitter.task_update(job, task, "status")
        threading.Thread(target=self._watch, args=(job, task, proc, grant, log_file),
                         name=f"task-{job.id}", daemon=True).start()

    def _new_session(self):
        """Runs in the child before exec: its own session (so abort can signal the whole process group)
        at a lower priority, so pages stay responsive while training keeps every core busy; then it
        becomes the task user, if there is one.

        setsid is done there rather than with start_new_session because gevent's subprocess runs
        preexec_fn before its own setsid, and the autogroup write must hit the new session; nor with
        Popen's user=, which switches before preexec_fn, when /proc/self/autogroup is no longer ours."""
        sandbox.child_setup(nice=int(self.config.get("task_nice", 5)), user=self.config.get("task_user"))

    def _watch(self, job, task, proc, grant, log_file):
        last_emit = 0.0
        try:
            for line in proc.stdout:
                try:
                    last_emit = self._handle_line(job, task, line, log_file, last_emit)
                except Exception:  # noqa: BLE001 - reading must go on, or the tool blocks on its pipe
                    log.exception("job %s: could not handle the line %r", job.id, line[:200])
        finally:
            proc.wait()
            log_file.close()
            # Under the lock, so the loop never sees the job without a process before its task
            # has its final status (it would start the task a second time).
            with self._lock:
                self._task_ended(job, task, proc.returncode)
                self._procs.pop(job.id, None)
                self.pools.release(grant)
        self._wake.set()

    def _handle_line(self, job, task, line, log_file, last_emit):
        msg = task.parse_line(line)
        if msg is None:
            log_file.write(line)
            self.emitter.task_update(job, task, "log", line=line.rstrip("\n")[-2000:])
            return last_emit
        with self._lock:
            job.on_task_message(task, msg)
        self._emit_message(job, task, msg)
        if msg["type"] == "progress" and time.time() - last_emit < 0.25:
            return last_emit
        self._save(job, throttled=True)
        return time.time()

    def _emit_message(self, job, task, msg):
        kind = msg["type"]
        if kind == "progress":
            self.emitter.task_update(job, task, "progress", percentage=round(task.progress * 100, 1),
                                     eta=task.eta)
            self.emitter.job_update(job, "progress", percentage=round(job.progress() * 100, 1), eta=job.eta())
        elif kind in ("metric", "resumed"):
            # DIGITS' update names: the learning-rate chart is fed apart from the loss/accuracy one.
            graph = "lr_graph" if msg.get("name") == "learning_rate" else "combined_graph"
            self.emitter.task_update(job, task, graph, message=msg)
        else:
            self.emitter.task_update(job, task, kind, message=msg)

    def _task_ended(self, job, task, returncode):
        with self._lock:
            task.returncode = returncode
            task.pid = None
            aborted = job.id in self._aborting
            self._aborting.discard(job.id)
            if aborted:
                task.set_status(Status.ABORT)
                self._finish(job, Status.ABORT)
            elif returncode == 0:
                task.progress = 1.0
                task.set_status(Status.DONE)
                try:
                    job.on_task_done(task)
                except Exception as exc:  # a kind's bookkeeping must not kill the scheduler
                    log.exception("on_task_done")
                    task.error = f"could not read the task's results: {exc}"
                    task.set_status(Status.ERROR)
                    self._finish(job, Status.ERROR)
                    return
                self._save(job)
                self.emitter.task_update(job, task, "status")
            else:
                if not task.error:
                    tail = task.log_tail(job.dir, 5)
                    task.error = f"exited with code {returncode}" + (": " + " | ".join(tail) if tail else "")
                task.set_status(Status.ERROR)
                self._finish(job, Status.ERROR)

    def _finish(self, job, status):
        for task in job.tasks:
            if task.status in Status.ACTIVE:
                task.set_status(status if status != Status.DONE else Status.DONE)
        job.set_status(status)
        self._save(job)
        self.emitter.job_update(job, "status")
        for task in job.tasks:
            self.emitter.task_update(job, task, "status")

    def _save(self, job, throttled=False):
        """The scheduler's own saves must not stop the loop or leave a job stuck: a failed one (disk
        full) is logged and the job goes on from its state in memory. job.json keeps its previous
        version (writes are atomic) until a later save works."""
        try:
            job.save_throttled() if throttled else job.save()
        except OSError as exc:
            if job.id not in self._unsaved:
                log.warning("job %s: could not save job.json (%s); it keeps its previous state until a "
                            "later save works", job.id, exc)
            self._unsaved.add(job.id)
            return
        if job.id in self._unsaved:
            self._unsaved.discard(job.id)
            log.info("job %s: job.json saved again", job.id)
