"""A Job is a folder on disk: job.json (written atomically) plus the tasks' logs and artifacts."""
import contextlib
import json
import os
import secrets
import shutil
import threading
import time

from digits.utils.atomic import write_json
from digits.job_schema import check_job_data
from digits.status import Status, StatusHistory
from digits.task import Task

JOB_FILE = "job.json"
JOB_KINDS = {}


class JobError(Exception):
    """Raised for a job folder that cannot be loaded; the message says why."""


def register_job_kind(cls):
    JOB_KINDS[cls.kind] = cls
    return cls


@contextlib.contextmanager
def discard_on_error(jobs):
    """For jobs being created (jobs may grow inside): if anything fails before they are registered,
    their folders go too, so no half-made job is loaded, or warned about, at the next start."""
    try:
        yield jobs
    except BaseException:
        for job in jobs:
            shutil.rmtree(job.dir, ignore_errors=True)
        raise


def new_job_id():
    """Ids sort by creation time, and a random suffix keeps same-second jobs apart."""
    return time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


# The compact job-folder JSON (job.json and kinds' own files); kept under this name for the kinds
write_json_atomic = write_json


@register_job_kind
class Job:
    """Base job. Kinds subclass it, set `kind`/`category`, build their tasks and add page context."""

    kind = "job"
    category = "jobs"          # "datasets" | "models" | "pretrained_models": the URL prefix and home tab
    title = "Job"

    def __init__(self, jobs_dir, name, owner, group="", notes="", form_data=None, job_id=None):
        self.id = job_id or new_job_id()
        self.jobs_dir = jobs_dir
        self.dir = os.path.join(jobs_dir, self.id)
        self.name = name
        self.owner = owner
        self.group = group or ""
        self.notes = notes or ""
        self.form_data = form_data or {}
        self.created = time.time()
        self.status_history = StatusHistory()
        self.tasks = []
        self.extra = {}     # kind-specific persisted facts (dataset id, network, results ...)
        self.load_error = None
        self._lock = threading.RLock()
        self._last_save = 0.0

    # ----- persistence
    def to_dict(self):
        return {
            "id": self.id, "kind": self.kind, "name": self.name, "owner": self.owner,
            "group": self.group, "notes": self.notes, "created": self.created,
            "status_history": self.status_history.to_json(), "form_data": self.form_data,
            "tasks": [t.to_json() for t in self.tasks], "extra": self.extra,
        }

    def save(self, durable=True):
        self._write(self.to_dict(), durable)

    def save_changed(self, **fields):
        """Sets attributes (name, notes) once job.json holds them: a failed write (disk full) raises
        and leaves the job as it was in memory too, so no page shows what a restart would lose."""
        with self._lock:
            self._write(dict(self.to_dict(), **fields), durable=True)
            for key, value in fields.items():
                setattr(self, key, value)

    def _write(self, data, durable):
        if self.load_error:
            return  # never overwrite a damaged job.json: it is evidence, and maybe repairable
        with self._lock:
            os.makedirs(self.dir, exist_ok=True)
            write_json(os.path.join(self.dir, JOB_FILE), data, durable)
            self._last_save = time.time()

    def save_throttled(self, interval=2.0):
        """Progress and metric saves: infrequent and without fsync, since they run in the server's
        event loop (a resumed training run replays its metric history anyway)."""
        if time.time() - self._last_save >= interval:
            self.save(durable=False)

    @staticmethod
    def load(job_dir):
        """Rebuilds a job from its folder; a damaged job.json yields a BrokenJob saying why."""
        jobs_dir, job_id = os.path.split(os.path.normpath(job_dir))
        data = None
        try:
            with open(os.path.join(job_dir, JOB_FILE)) as f:
                data = json.load(f)
            check_job_data(data)
            cls = JOB_KINDS.get(data.get("kind"))
            if cls is None:
                raise JobError(f"unknown job kind {data.get('kind')!r} (is its plugin installed?)")
            job = cls.__new__(cls)
            Job.__init__(job, jobs_dir, data["name"], data.get("owner"), data.get("group", ""),
                         data.get("notes", ""), data.get("form_data"), job_id=job_id)
            job.created = data.get("created", job.created)
            job.status_history = StatusHistory(data.get("status_history"))
            job.tasks = [Task.from_json(t) for t in data.get("tasks", [])]
            job.extra = data.get("extra", {})
            return job
        except (OSError, ValueError, KeyError, TypeError, AttributeError, JobError) as exc:
            # The owner, when the damaged file still names one: only they may delete it.
            owner = data.get("owner") if isinstance(data, dict) else None
            return BrokenJob(jobs_dir, job_id, f"{type(exc).__name__}: {exc}",
                             owner if isinstance(owner, str) else None)

    # ----- state
    @property
    def status(self):
        return self.status_history.status

    def set_status(self, status):
        with self._lock:
            return self.status_history.set(status)

    def is_active(self):
        return self.status in Status.ACTIVE

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def task(self, name):
        return next((t for t in self.tasks if t.name == name), None)

    def progress(self):
        if not self.tasks:
            return 1.0 if self.status == Status.DONE else 0.0
        return sum(t.progress for t in self.tasks) / len(self.tasks)

    def eta(self):
        """Seconds left for the running task(s), the best estimate there is before later tasks run."""
        etas = [t.eta for t in self.tasks if t.status == Status.RUN and t.eta is not None]
        return max(etas) if etas else None

    def error(self):
        if self.load_error:
            return self.load_error
        for task in self.tasks:
            if task.error:
                return f"{task.title}: {task.error}"
        return self.extra.get("error")

    # ----- hooks for kinds
    def dependency_ids(self):
        """Jobs that must be Done before this one runs (a model waits for its dataset)."""
        return []

    def on_task_message(self, task, msg):
        """Called for each protocol message; kinds may record extra facts."""

    def on_task_done(self, task):
        """Called when a task exits 0; kinds may add follow-up work or read result files."""

    def prepare_restart(self):
        """Called before re-queueing after a server restart or a Resume; kinds adjust task args."""

    def page_url(self):
        return f"/{self.category}/{self.id}"

    # ----- views
    def missing_plugin(self):
        """The id of the plugin the job was made with when it is no longer installed (its pages then say
        "plugin missing"), else None. Kinds made by data extensions answer it."""
        return None

    def summary(self):
        return {"id": self.id, "name": self.name, "status": self.status, "type": self.kind,
                "category": self.category, "owner": self.owner, "group": self.group,
                "created": self.created, "progress": round(self.progress() * 100, 1),
                "css": Status.CSS[self.status], "url": self.page_url(), "title": self.title,
                "plugin_missing": self.missing_plugin()}

    def to_json(self):
        data = self.summary()
        data.update({
            "notes": self.notes, "error": self.error(), "status_history": self.status_history.to_json(),
            "runtime": self.status_history.runtime(), "job_dir": self.dir,
            "directory": self.dir,   # DIGITS' name for it (docs/API.md: {id, name, directory, status})
            "tasks": [dict(t.summary(), results=t.results, warnings=t.warnings) for t in self.tasks],
        })
        return data


class BrokenJob(Job):
    """Stands for a folder whose job.json could not be read; shown in Error, never rewritten."""

    kind = "broken"
    title = "Unreadable job"

    def __init__(self, jobs_dir, job_id, reason, owner=None):
        super().__init__(jobs_dir, job_id, owner=owner, job_id=job_id)
        self.load_error = f"job.json could not be loaded ({reason})"
        self.status_history = StatusHistory([[Status.ERROR, time.time()]])
