"""Faults: a task killed from outside, concurrent aborts and deletes."""
import json
import os
import signal
import threading

from fake_kind import make_fake_job

from digits.job import Job
from digits.status import Status
from tests.helpers import login, wait_for, wait_status


def test_killed_subprocess_is_an_error_with_the_last_log_lines(app, jobs_dir):
    sched = app.extensions["digits"]["scheduler"]
    job = make_fake_job(jobs_dir, steps=1000, sleep=0.05)
    sched.add_job(job)
    wait_for(lambda: os.path.exists(job.path("env.json")) and job.tasks[0].progress > 0.002, message="running")
    os.kill(json.load(open(job.path("env.json")))["pid"], signal.SIGKILL)
    wait_status(job, Status.ERROR)
    assert "exited with code -9" in job.error()
    assert "log line for step" in job.error()


def test_concurrent_aborts_and_deletes_leave_consistent_state(make_app, jobs_dir):
    app = make_app(plugins=["fake_kind"])
    sched = app.extensions["digits"]["scheduler"]
    jobs = [make_fake_job(jobs_dir, name=f"c{i}", owner="alice", steps=500, sleep=0.02, pool="gpu")
            for i in range(4)]
    for job in jobs:
        sched.add_job(job)
    wait_status(jobs[0], Status.RUN)
    errors = []

    def hammer(job, action):
        client = login(app.test_client(), "alice")
        for _ in range(5):
            if action == "abort":
                response = client.post(f"/datasets/{job.id}/abort")
            else:
                response = client.delete(f"/datasets/{job.id}")
            if response.status_code >= 500:
                errors.append(response.data)

    threads = [threading.Thread(target=hammer, args=(job, action)) for job in jobs for action in ("abort", "delete")]
    threads += [threading.Thread(target=hammer, args=(job, "abort")) for job in jobs[:2]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    wait_for(lambda: not sched._procs, timeout=20, message="all subprocesses gone")
    for job in jobs:
        assert sched.get_job(job.id) is None
        assert not os.path.exists(job.dir)
    # whatever is left in the jobs dir still loads
    for name in os.listdir(jobs_dir):
        assert Job.load(os.path.join(jobs_dir, name)).load_error is None


def test_abort_then_delete_keeps_other_jobs_intact(make_app, jobs_dir):
    app = make_app(plugins=["fake_kind"])
    sched = app.extensions["digits"]["scheduler"]
    keep = make_fake_job(jobs_dir, name="keep", owner="alice", steps=2)
    sched.add_job(keep)
    wait_status(keep, Status.DONE)
    before = open(keep.path("job.json")).read()
    victim = make_fake_job(jobs_dir, name="victim", owner="alice", steps=500, sleep=0.02)
    sched.add_job(victim)
    wait_status(victim, Status.RUN)
    client = login(app.test_client(), "alice")
    assert client.post(f"/datasets/{victim.id}/abort").status_code == 200
    assert client.delete(f"/datasets/{victim.id}").status_code == 200
    assert open(keep.path("job.json")).read() == before
    assert sorted(os.listdir(jobs_dir)) == [keep.id]
