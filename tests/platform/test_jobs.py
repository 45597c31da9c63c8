"""Job folders: atomic job.json, round trip, damaged files shown in Error and left untouched."""
import json
import os

from fake_kind import FakeJob, make_fake_job

from digits.job import Job
from digits.status import Status


def test_round_trip_keeps_everything(jobs_dir):
    job = make_fake_job(jobs_dir, name="round", owner="bob", tasks=2)
    job.group, job.notes, job.form_data = "g1", "some notes", {"a": 1}
    job.tasks[0].metrics["train/loss"] = [[1, 0.5]]
    job.set_status(Status.WAIT)
    job.save()
    assert not [n for n in os.listdir(job.dir) if ".tmp" in n], "temp file left behind"
    loaded = Job.load(job.dir)
    assert isinstance(loaded, FakeJob)
    assert loaded.to_dict() == job.to_dict()
    assert [s for s, _ in loaded.status_history.history] == [Status.INIT, Status.WAIT]


def test_damaged_job_json_is_an_error_and_untouched(jobs_dir, make_app):
    good = make_fake_job(jobs_dir, name="good")
    good.save()
    bad_dir = os.path.join(jobs_dir, "20200101-000000-dead")
    os.makedirs(bad_dir)
    with open(os.path.join(bad_dir, "job.json"), "w") as f:
        f.write('{"kind": "test-fake", "name": truncated')
    before = open(os.path.join(bad_dir, "job.json")).read()
    app = make_app()
    client = app.test_client()
    index = client.get("/index.json").get_json()
    ids = {j["id"]: j for j in index["datasets"] + index["jobs"]}
    assert ids[good.id]["status"] == Status.INIT
    assert ids["20200101-000000-dead"]["status"] == Status.ERROR
    status = client.get("/jobs/20200101-000000-dead/status").get_json()
    assert "job.json could not be loaded" in status["error"]
    assert client.get("/").status_code == 200
    assert open(os.path.join(bad_dir, "job.json")).read() == before


def test_unknown_kind_is_reported(jobs_dir):
    os.makedirs(os.path.join(jobs_dir, "x"))
    with open(os.path.join(jobs_dir, "x", "job.json"), "w") as f:
        json.dump({"kind": "no-such-kind", "name": "x"}, f)
    job = Job.load(os.path.join(jobs_dir, "x"))
    assert job.status == Status.ERROR and "no-such-kind" in job.error()
