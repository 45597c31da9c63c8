"""Job folders: atomic job.json, round trip, damaged files shown in Error and left untouched."""
import json
import os

import pytest

from fake_kind import FakeJob, make_fake_job

from digits.job import Job
from tests.helpers import login
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


def _damage(data, path, value):
    """Sets a dotted path (list indexes as numbers) in a job.json dict."""
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    for key in keys[:-1]:
        data = data[key]
    data[keys[-1]] = value


@pytest.mark.parametrize("path,value", [
    (None, '{"kind": "test-fake", "name": truncated'),
    ("status_history", [[]]),
    ("status_history", [["Bogus", 1]]),
    ("status_history", "abc"),
    ("created", "yesterday"),
    ("extra", [1, 2]),
    ("name", None),
    ("tasks", {"a": 1}),
    ("tasks.0.state.progress", "abc"),
    ("tasks.0.state.status_history", [["Running"]]),
    ("tasks.0.state.metrics", {"train/loss": [1, 2]}),
    ("tasks.0.state.snapshots", [{"file": "x"}]),
    ("tasks.0.resources", {"gpu": "two"}),
    ("tasks.0.args", "--steps 3"),
])
def test_damaged_job_json_is_an_error_and_untouched(jobs_dir, make_app, path, value):
    good = make_fake_job(jobs_dir, name="good")
    good.save()
    bad = make_fake_job(jobs_dir, name="bad")
    bad.id, bad.dir = "20200101-000000-dead", os.path.join(jobs_dir, "20200101-000000-dead")
    bad.save()
    data = bad.to_dict()
    if path:
        _damage(data, path, value)
    with open(os.path.join(bad.dir, "job.json"), "w") as f:
        f.write(json.dumps(data) if path else value)
    before = open(os.path.join(bad.dir, "job.json")).read()
    app = make_app()
    client = app.test_client()
    index = client.get("/index.json").get_json()
    ids = {j["id"]: j for j in index["datasets"] + index["jobs"]}
    assert ids[good.id]["status"] == Status.INIT
    assert ids["20200101-000000-dead"]["status"] == Status.ERROR
    status = client.get("/jobs/20200101-000000-dead/status").get_json()
    assert "job.json could not be loaded" in status["error"]
    for url in ("/", "/completed_jobs.json", "/jobs/20200101-000000-dead", "/jobs/20200101-000000-dead.json"):
        assert client.get(url).status_code == 200, url
    assert open(os.path.join(bad.dir, "job.json")).read() == before


@pytest.mark.parametrize("owner,deleter,code", [("alice", None, 401), ("alice", "bob", 403), ("alice", "alice", 200),
                                                 (None, None, 401), (None, "bob", 200)])
def test_only_the_owner_deletes_a_damaged_job(jobs_dir, make_app, owner, deleter, code):
    os.makedirs(os.path.join(jobs_dir, "dead"))
    with open(os.path.join(jobs_dir, "dead", "job.json"), "w") as f:
        json.dump({"kind": "test-fake", "name": "x", "owner": owner, "status_history": "damaged"}, f)
    client = make_app().test_client()
    if deleter:
        login(client, deleter)
    assert client.delete("/jobs/dead.json").status_code == code
    assert os.path.exists(os.path.join(jobs_dir, "dead")) == (code != 200)


def test_unknown_kind_is_reported(jobs_dir):
    os.makedirs(os.path.join(jobs_dir, "x"))
    with open(os.path.join(jobs_dir, "x", "job.json"), "w") as f:
        json.dump({"kind": "no-such-kind", "name": "x"}, f)
    job = Job.load(os.path.join(jobs_dir, "x"))
    assert job.status == Status.ERROR and "no-such-kind" in job.error()
