"""A test-only job kind (also loadable as a server plugin through DIGITS_PLUGINS=fake_kind)."""
import os

from flask import Blueprint, jsonify, request

from digits.auth import current_user, login_required
from digits.job import Job, register_job_kind
from digits.task import Task
from digits.utils.routing import config, scheduler

TOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_tool.py")


@register_job_kind
class FakeJob(Job):
    kind = "test-fake"
    category = "datasets"
    title = "Fake job"

    def dependency_ids(self):
        return list(self.extra.get("depends_on", []))


def make_fake_job(jobs_dir, name="fake", owner="alice", steps=5, sleep=0.01, fail_at=-1, pool="create_db",
                  depends_on=(), ignore_term=False, record=None, tasks=1, extra_args=()):
    job = FakeJob(jobs_dir, name, owner)
    job.extra["depends_on"] = list(depends_on)
    for i in range(tasks):
        args = ["--steps", steps, "--sleep", sleep, "--fail-at", fail_at]
        if ignore_term:
            args.append("--ignore-term")
        if record:
            args += ["--record", record]
        args += list(extra_args)
        resources = {"gpu": 1} if pool == "gpu" else {pool: 1}
        job.tasks.append(Task(f"step{i}", TOOL, args, resources, title=f"Step {i}"))
    return job


blueprint = Blueprint("fake", __name__)


@blueprint.route("/test/fake.json", methods=["POST"])
@login_required
def create():
    job = make_fake_job(config()["jobs_dir"], name=request.form.get("name", "fake"), owner=current_user(),
                        steps=int(request.form.get("steps", 5)), sleep=float(request.form.get("sleep", 0.01)))
    scheduler().add_job(job)
    return jsonify({"id": job.id, "name": job.name, "status": job.status})
