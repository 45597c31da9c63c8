"""A Task is one subprocess run of a digits.tools entry point, and everything learnt from its stdout."""
import json
import os
import sys
import time

from digits.sandbox import child_environment
from digits.status import Status, StatusHistory
from digits.utils.checks import is_number

LOG_TAIL_LINES = 200


def module_command(module, job_dir, args=(), procs=1, python=None):
    """argv running a tool module: plain python for one process, torch.distributed.run for more."""
    launcher = [python or sys.executable]
    if procs > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}"]
    return [*launcher, "-m", module, "--job-dir", str(job_dir), *args]


def _add_point(series, epoch, value):
    """Adds a metric point, replacing one at the same epoch: a resumed tool replays the history in
    its snapshot, which fills in what the server had not saved before a crash, without duplicates."""
    if epoch is None or not series or series[-1][0] is None or epoch > series[-1][0]:
        series.append([epoch, value])
        return
    for point in series:
        if point[0] == epoch:
            point[1] = value
            return
    series.append([epoch, value])
    series.sort(key=lambda p: (p[0] is None, p[0] or 0))


def _number(value, finite=True):
    """An int or float from a protocol field; anything else is a malformed message. Metric values
    may be NaN or infinite: a diverging training is worth charting."""
    if not is_number(value, finite):
        raise ValueError(f"expected a number, got {value!r:.60}")
    return value


class Task:
    """Persistent description and state of one step of a job.

    The scheduler starts `command(job)` and feeds each stdout line to `parse_line`; the job kind may
    react to messages through Job.on_task_message. Everything here round-trips through job.json.
    """

    def __init__(self, name, tool, args=(), resources=None, title=None, state=None):
        self.name = name
        self.title = title or name
        self.tool = tool
        self.args = [str(a) for a in args]
        # e.g. {"create_db": 1} or {"gpu": 2}; see Scheduler for the pools.
        self.resources = dict(resources or {})
        state = state or {}
        self.status_history = StatusHistory(state.get("status_history"))
        self.progress = state.get("progress", 0.0)
        self.eta = state.get("eta")
        self.results = state.get("results", {})
        self.metrics = state.get("metrics", {})
        self.snapshots = state.get("snapshots", [])
        self.warnings = state.get("warnings", [])
        self.error = state.get("error")
        self.returncode = state.get("returncode")
        self.gpus = state.get("gpus", [])
        self.restarts = state.get("restarts", 0)
        # Kept on disk so a restarted server can stop a subprocess the crashed one left behind.
        self.pid = state.get("pid")
        # Only meaningful while running; not persisted.
        self._run_started = None
        self._progress_at_start = 0.0

    # ----- persistence
    def to_json(self):
        return {
            "name": self.name, "title": self.title, "tool": self.tool, "args": self.args,
            "resources": self.resources,
            "state": {
                "status_history": self.status_history.to_json(), "progress": self.progress,
                "eta": self.eta, "results": self.results, "metrics": self.metrics,
                "snapshots": self.snapshots, "warnings": self.warnings, "error": self.error,
                "returncode": self.returncode, "gpus": self.gpus, "restarts": self.restarts,
                "pid": self.pid,
            },
        }

    @classmethod
    def from_json(cls, data):
        return cls(data["name"], data["tool"], data.get("args", ()), data.get("resources"),
                   data.get("title"), data.get("state"))

    # ----- state
    @property
    def status(self):
        return self.status_history.status

    def set_status(self, status):
        return self.status_history.set(status)

    @property
    def log_file(self):
        return f"{self.name}.log"

    def command(self, job):
        """argv of the subprocess; tools are modules so they run the same by hand and under us.

        A task given several GPUs runs one process per GPU under torch.distributed.run (DDP).
        """
        if self.tool.endswith(".py"):  # test tools and plugins given as a file path
            return [sys.executable, self.tool, "--job-dir", job.dir, *self.args]
        procs = max(len(self.gpus), int(self.resources.get("procs", 1)))
        return module_command(f"digits.tools.{self.tool}", job.dir, self.args, procs)

    def environment(self, user=None):
        """The allowlisted part of the server's environment (never its secrets: the tool may run a
        user's network code), as the task user (a sandbox.TaskUser) when there is one."""
        # An empty CUDA_VISIBLE_DEVICES hides every GPU from CPU tasks, so they never grab one.
        return child_environment({"CUDA_VISIBLE_DEVICES": ",".join(str(g) for g in self.gpus),
                                  "PYTHONUNBUFFERED": "1"}, user)

    def on_start(self):
        self.pid = None
        self.error = None
        self.returncode = None
        self.eta = None
        self._run_started = time.time()
        self._progress_at_start = self.progress

    def parse_line(self, line):
        """Returns the decoded protocol message, or None for a plain log line."""
        line = line.strip()
        if not line.startswith("{"):
            return None
        try:
            msg = json.loads(line)
        except ValueError:
            return None
        if not isinstance(msg, dict) or "type" not in msg:
            return None
        try:
            self._apply(msg)
        except (TypeError, ValueError, KeyError) as e:
            # A tool's bug must not stop the scheduler reading its stdout (the tool would block on
            # a full pipe): the line goes to the log and the job page shows what was wrong with it.
            self.warnings.append(f"ignored a malformed {str(msg['type'])[:40]!r} message: {e}")
            return None
        return msg

    def _apply(self, msg):
        kind = msg["type"]
        if kind == "progress":
            self._set_progress(_number(msg.get("value", 0.0)))
        elif kind == "metric":
            key = f"{msg.get('phase', 'train')}/{msg.get('name', 'value')}"
            epoch = msg.get("epoch")
            epoch = None if epoch is None else _number(epoch)
            value = msg.get("value")
            value = None if value is None else _number(value, finite=False)
            _add_point(self.metrics.setdefault(key, []), epoch, value)
        elif kind == "snapshot":
            entry = {"epoch": _number(msg.get("epoch")), "file": str(msg.get("file"))}
            self.snapshots = [s for s in self.snapshots if s["epoch"] != entry["epoch"]] + [entry]
        elif kind == "resumed":
            self._truncate_after(_number(msg.get("epoch", 0)))
        elif kind == "result":
            self.results.update({k: v for k, v in msg.items() if k != "type"})
        elif kind == "warning":
            self.warnings.append(str(msg.get("message", "")))
        elif kind == "error":
            self.error = str(msg.get("message", "unknown error"))

    def _set_progress(self, value):
        value = min(max(value, 0.0), 1.0)
        self.progress = value
        if self._run_started is None:
            return
        done = value - self._progress_at_start
        elapsed = time.time() - self._run_started
        self.eta = elapsed * (1.0 - value) / done if done > 1e-6 else None

    def _truncate_after(self, epoch):
        """A resumed run repeats everything after its snapshot: drop what it will re-emit."""
        for key, series in self.metrics.items():
            self.metrics[key] = [p for p in series if p[0] is None or p[0] <= epoch]
        self.snapshots = [s for s in self.snapshots if s["epoch"] <= epoch]

    def log_tail(self, job_dir, lines=LOG_TAIL_LINES):
        path = os.path.join(job_dir, self.log_file)
        try:
            with open(path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - 64 * 1024))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return []
        return text.splitlines()[-lines:]

    def summary(self):
        """What the browser needs to redraw this task's row."""
        return {"name": self.name, "title": self.title, "status": self.status,
                "css": Status.CSS[self.status], "progress": round(self.progress * 100, 1),
                "eta": self.eta, "error": self.error, "gpus": self.gpus}
