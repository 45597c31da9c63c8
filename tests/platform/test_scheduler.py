"""Scheduler: queueing, resource limits, dependencies, failures, abort, GPUs per task."""
import json
import os

import pytest
from tests.helpers import wait_for, wait_status
from fake_kind import make_fake_job

from digits.scheduler import Scheduler
from digits.status import Status


@pytest.fixture
def scheduler(jobs_dir):
    made = []

    def factory(**overrides):
        config = {"jobs_dir": jobs_dir, "abort_grace_seconds": 1.0, "cpu_train_slots": 1}
        config.update(overrides)
        sched = Scheduler(config, gpus=overrides.get("gpus", []))
        sched.load_jobs()
        sched.start()
        made.append(sched)
        return sched

    yield factory
    for sched in made:
        sched.stop()


def _intervals(record):
    with open(record) as f:
        stamps = [line.split() for line in f]
    starts = sorted(float(t) for k, t in stamps if k == "start")
    ends = sorted(float(t) for k, t in stamps if k == "end")
    return list(zip(starts, ends))


def test_job_runs_to_done_with_progress_metrics_and_log(scheduler, jobs_dir):
    sched = scheduler()
    job = make_fake_job(jobs_dir, steps=4)
    sched.add_job(job)
    wait_status(job, Status.DONE)
    task = job.tasks[0]
    assert task.progress == 1.0
    assert [p[0] for p in task.metrics["train/loss"]] == [1, 2, 3, 4]
    assert task.results["steps"] == 4
    assert "log line for step 3" in open(job.path(task.log_file)).read()
    on_disk = json.load(open(job.path("job.json")))
    assert on_disk["status_history"][-1][0] == Status.DONE
    assert [s for s, _ in on_disk["status_history"]] == [Status.INIT, Status.WAIT, Status.RUN, Status.DONE]


def test_malformed_protocol_lines_are_warnings_and_reading_goes_on(scheduler, jobs_dir):
    sched = scheduler()
    job = make_fake_job(jobs_dir, steps=2, extra_args=["--garbage"])
    sched.add_job(job)
    wait_status(job, Status.DONE)
    task = job.tasks[0]
    assert len([w for w in task.warnings if "malformed" in w]) == 4, task.warnings
    assert task.progress == 1.0 and [p[0] for p in task.metrics["train/loss"]] == [1, 2]
    assert task.snapshots == []
    log = open(job.path(task.log_file)).read()
    assert '"value": "half"' in log and "x" * 200_000 in log


def test_a_job_kind_that_raises_on_messages_does_not_stop_the_reading(scheduler, jobs_dir):
    sched = scheduler()
    job = make_fake_job(jobs_dir, steps=2, extra_args=["--garbage"])   # more output than a pipe holds

    def broken(task, msg):
        raise RuntimeError("a job kind's bug")
    job.on_task_message = broken
    sched.add_job(job)
    wait_status(job, Status.DONE)
    assert "x" * 200_000 in open(job.path(job.tasks[0].log_file)).read()


def test_pool_capacity_one_runs_jobs_one_at_a_time(scheduler, jobs_dir, tmp_path):
    record = str(tmp_path / "record.txt")
    sched = scheduler()
    jobs = [make_fake_job(jobs_dir, name=f"j{i}", steps=3, sleep=0.1, record=record) for i in range(3)]
    for job in jobs:
        sched.add_job(job)
    for job in jobs:
        wait_status(job, Status.DONE)
    spans = _intervals(record)
    assert len(spans) == 3
    for (s1, e1), (s2, _) in zip(spans, spans[1:]):
        assert s2 >= e1, "two create_db tasks overlapped although the pool holds one"


def test_two_cpu_training_slots_run_in_parallel(scheduler, jobs_dir, tmp_path):
    record = str(tmp_path / "record.txt")
    sched = scheduler(cpu_train_slots=2)
    jobs = [make_fake_job(jobs_dir, name=f"t{i}", steps=5, sleep=0.2, pool="gpu", record=record) for i in range(2)]
    for job in jobs:
        sched.add_job(job)
    for job in jobs:
        wait_status(job, Status.DONE)
    (s1, e1), (s2, e2) = _intervals(record)
    assert s2 < e1, "the second training slot was not used"
    assert all(json.load(open(j.path("env.json")))["CUDA_VISIBLE_DEVICES"] == "" for j in jobs)


def test_each_task_gets_its_own_gpu(scheduler, jobs_dir):
    sched = scheduler(gpus=[0, 1])
    jobs = [make_fake_job(jobs_dir, name=f"g{i}", steps=6, sleep=0.2, pool="gpu") for i in range(3)]
    for job in jobs:
        sched.add_job(job)
    wait_for(lambda: sum(j.status == Status.RUN for j in jobs) == 2, message="two GPU jobs running")
    assert jobs[2].status == Status.WAIT, "a third job started with only two GPUs"
    for job in jobs:
        wait_status(job, Status.DONE)
    devices = [json.load(open(j.path("env.json")))["CUDA_VISIBLE_DEVICES"] for j in jobs]
    assert set(devices[:2]) == {"0", "1"} and devices[2] in ("0", "1")


def test_more_gpus_than_the_server_has_is_an_error_not_a_wait(scheduler, jobs_dir):
    sched = scheduler(gpus=[0, 1])
    job = make_fake_job(jobs_dir, pool="gpu")
    job.tasks[0].resources = {"gpu": 3}
    sched.add_job(job)
    wait_status(job, Status.ERROR)
    assert "3 GPUs requested, this server has 2" in job.error()


def test_dependency_waits_then_runs(scheduler, jobs_dir):
    sched = scheduler()
    first = make_fake_job(jobs_dir, name="first", steps=5, sleep=0.1, pool="parse_folder")
    second = make_fake_job(jobs_dir, name="second", steps=1, pool="create_db", depends_on=[first.id])
    sched.add_job(second)
    sched.add_job(first)
    wait_status(first, Status.RUN)
    assert second.status == Status.WAIT
    wait_status(first, Status.DONE)
    wait_status(second, Status.DONE)
    assert second.status_history.first_time(Status.RUN) >= first.status_history.first_time(Status.DONE)


def test_failed_dependency_propagates(scheduler, jobs_dir):
    sched = scheduler()
    first = make_fake_job(jobs_dir, name="first", steps=3, fail_at=1)
    second = make_fake_job(jobs_dir, name="second", depends_on=[first.id])
    sched.add_job(first)
    sched.add_job(second)
    wait_status(first, Status.ERROR)
    assert "failed on purpose at step 1" in first.error()
    wait_status(second, Status.ERROR)
    assert "first" in second.error() and "Error" in second.error()


def test_deleted_dependency_is_an_error(scheduler, jobs_dir):
    sched = scheduler()
    second = make_fake_job(jobs_dir, name="second", depends_on=["20000101-000000-gone"])
    sched.add_job(second)
    wait_status(second, Status.ERROR)
    assert "deleted" in second.error()


def test_crash_without_error_line_keeps_log_tail(scheduler, jobs_dir):
    sched = scheduler()
    job = make_fake_job(jobs_dir, steps=2)
    job.tasks[0].args += ["--bogus-flag"]     # argparse exits 2 with a message on stderr
    sched.add_job(job)
    wait_status(job, Status.ERROR)
    assert "exited with code 2" in job.error() and "bogus-flag" in job.error()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("ignore_term", [False, True])
def test_abort_stops_the_subprocess(scheduler, jobs_dir, ignore_term):
    sched = scheduler()
    job = make_fake_job(jobs_dir, steps=1000, sleep=0.05, ignore_term=ignore_term)
    sched.add_job(job)
    wait_for(lambda: os.path.exists(job.path("env.json")) and job.status == Status.RUN, message="task running")
    pid = json.load(open(job.path("env.json")))["pid"]
    assert sched.abort_job(job)
    wait_status(job, Status.ABORT, timeout=20)
    wait_for(lambda: not _alive(pid), timeout=10, message="subprocess gone")
    assert job.tasks[0].status == Status.ABORT
    wait_for(lambda: json.load(open(job.path("job.json")))["status_history"][-1][0] == Status.ABORT,
             timeout=5, message="job.json to say Aborted")


def test_abort_waiting_job_and_resume(scheduler, jobs_dir):
    sched = scheduler()
    blocker = make_fake_job(jobs_dir, name="blocker", steps=30, sleep=0.1)
    waiting = make_fake_job(jobs_dir, name="waiting", steps=2)
    sched.add_job(blocker)
    sched.add_job(waiting)
    wait_status(blocker, Status.RUN)
    assert sched.abort_job(waiting)
    assert waiting.status == Status.ABORT
    sched.abort_job(blocker)
    wait_status(blocker, Status.ABORT)
    sched.resume_job(waiting)
    wait_status(waiting, Status.DONE)
    with pytest.raises(ValueError):
        sched.resume_job(waiting)


def test_restart_requeues_and_tool_resumes(scheduler, jobs_dir):
    sched = scheduler()
    job = make_fake_job(jobs_dir, steps=40, sleep=0.05)
    sched.add_job(job)
    wait_for(lambda: job.tasks[0].progress >= 0.2, message="some progress")
    sched.stop(abort_running=True)           # the server goes away mid-job
    wait_for(lambda: not sched._procs, message="subprocess ended")
    # what a crash leaves behind: job.json says Running
    data = json.load(open(job.path("job.json")))
    data["status_history"].append([Status.RUN, data["status_history"][-1][1]])
    json.dump(data, open(job.path("job.json"), "w"))
    sched2 = scheduler()
    again = sched2.get_job(job.id)
    # re-queued (its loop may already have started it again)
    assert again.status_history.to_json()[len(data["status_history"])][0] == Status.WAIT
    wait_status(again, Status.DONE)
    steps = [p[0] for p in again.tasks[0].metrics["train/loss"]]
    assert steps == list(range(1, 41)), "metric history is not continuous after the restart"
    assert again.extra["restarts"][0][0] == "server restarted"
