"""DIGITS' bulk routes (POST /group, POST /abort_jobs, DELETE /jobs with job_ids[]): owner rules per job,
what was done and why the rest was not, nothing touched that should not be; the home page's selection."""
import json
import os

import pytest

from fake_kind import make_fake_job

from digits.status import Status
from tests.helpers import login, wait_status


@pytest.fixture
def sched(app):
    return app.extensions["digits"]["scheduler"]


def _done_job(sched, name, owner="alice", depends_on=()):
    job = make_fake_job(sched.jobs_dir, name=name, owner=owner, steps=1, depends_on=depends_on)
    sched.add_job(job)
    assert wait_status(job, ("Done", "Error")) == "Done", job.error()
    return job


def _not_done(body):
    return {p["id"]: p["reason"] for p in body["not_done"]}


def test_group_sets_the_group_of_each_job_and_of_its_clone_data(app, sched):
    client = login(app.test_client(), "alice")
    a, b = _done_job(sched, "a"), _done_job(sched, "b")
    a.save_changed(form_data={"dataset_name": "a", "group_name": "old"})
    response = client.post("/group", data={"job_ids[]": [a.id, b.id], "group_name": " exp-1 "})
    assert response.status_code == 200, response.data
    body = response.get_json()
    assert body["done"] == [a.id, b.id] and body["not_done"] == [] and body["message"] == "Jobs regrouped."
    assert a.group == b.group == "exp-1"
    with open(os.path.join(a.dir, "job.json")) as f:
        saved = json.load(f)
    assert saved["group"] == "exp-1" and saved["form_data"]["group_name"] == "exp-1"
    index = {j["id"]: j for j in client.get("/index.json").get_json()["datasets"]}
    assert index[a.id]["group"] == "exp-1"
    # an empty name takes them out of the group
    assert client.post("/group", data={"job_ids[]": [a.id], "group_name": ""}).status_code == 200
    assert a.group == ""


def test_delete_does_the_users_jobs_and_lists_each_refusal(app, sched):
    alice = login(app.test_client(), "alice")
    mine, bobs = _done_job(sched, "mine"), _done_job(sched, "bobs", owner="bob")
    response = alice.delete("/jobs", data={"job_ids[]": [mine.id, bobs.id, "20990101-000000-none"]})
    assert response.status_code == 400
    body = response.get_json()
    assert body["done"] == [mine.id]
    reasons = _not_done(body)
    assert "only its owner (bob)" in reasons[bobs.id] and reasons["20990101-000000-none"] == "no such job"
    assert bobs.id in body["error"]["message"] and "20990101-000000-none" in body["error"]["message"]
    assert f"'bobs' ({bobs.id}): only its owner" in body["message"]   # the name people see in the table
    assert sched.get_job(mine.id) is None and not os.path.exists(mine.dir)
    assert sched.get_job(bobs.id) is bobs and os.path.isdir(bobs.dir)


def test_a_dataset_in_use_is_deleted_only_with_every_job_using_it(app, sched):
    alice = login(app.test_client(), "alice")
    dataset = _done_job(sched, "dataset")
    users = [_done_job(sched, f"model{i}", depends_on=[dataset.id]) for i in range(2)]
    bobs = _done_job(sched, "bobs-model", owner="bob", depends_on=[dataset.id])
    # used by jobs that stay (one not selected, one another user's): nothing of the chain goes
    response = alice.delete("/jobs", data={"job_ids[]": [dataset.id, users[0].id, bobs.id]})
    assert response.status_code == 400
    reasons = _not_done(response.get_json())
    assert "in use by" in reasons[dataset.id] and users[1].id in reasons[dataset.id] and bobs.id in reasons[dataset.id]
    assert "only its owner" in reasons[bobs.id]
    assert response.get_json()["done"] == [users[0].id]   # a user of the dataset may go on its own
    assert sched.get_job(dataset.id) is dataset and os.path.isdir(dataset.dir)
    # bob removes his; then alice's dataset goes with her last model, whatever order they are listed in
    assert login(app.test_client(), "bob").delete("/jobs", data={"job_ids[]": [bobs.id]}).status_code == 200
    response = alice.delete("/jobs", data={"job_ids[]": [dataset.id, users[1].id]})
    assert response.status_code == 200, response.data
    assert response.get_json()["done"] == [dataset.id, users[1].id]
    assert not os.path.exists(dataset.dir) and sched.get_job(users[1].id) is None


def test_abort_stops_the_running_ones_and_says_which_had_nothing_to_abort(app, sched):
    client = login(app.test_client(), "alice")
    finished = _done_job(sched, "finished")
    running = make_fake_job(sched.jobs_dir, name="long", steps=2000, sleep=0.05)
    bobs = make_fake_job(sched.jobs_dir, name="bobs-long", owner="bob", steps=2000, sleep=0.05)
    sched.add_jobs([running, bobs])   # one runs, one waits for a slot: both can be aborted
    response = client.post("/abort_jobs", data={"job_ids[]": [running.id, finished.id, bobs.id]})
    assert response.status_code == 400
    body = response.get_json()
    assert body["done"] == [running.id]
    reasons = _not_done(body)
    assert "nothing to abort" in reasons[finished.id] and "only its owner" in reasons[bobs.id]
    assert wait_status(running, (Status.ABORT,)) == Status.ABORT
    assert bobs.is_active() and finished.status == Status.DONE
    assert login(app.test_client(), "bob").post("/abort_jobs", data={"job_ids[]": [bobs.id]}).status_code == 200
    assert wait_status(bobs, (Status.ABORT,)) == Status.ABORT


@pytest.mark.parametrize("method,url", [("post", "/group"), ("post", "/abort_jobs"), ("delete", "/jobs")])
def test_bulk_routes_need_a_login_and_a_selection(app, sched, method, url):
    job = _done_job(sched, "kept")
    anonymous = getattr(app.test_client(), method)(url, data={"job_ids[]": [job.id]})
    assert anonymous.status_code == 401 and "login" in anonymous.get_json()["error"]["message"]
    client = login(app.test_client(), "alice")
    empty = getattr(client, method)(url, data={"job_ids[]": ["", "  "]})
    assert empty.status_code == 400 and "no jobs selected" in empty.get_json()["error"]["message"]
    too_many = getattr(client, method)(url, data={"job_ids[]": [f"id{i}" for i in range(1001)]})
    assert too_many.status_code == 400 and "at most 1000" in too_many.get_json()["error"]["message"]
    assert sched.get_job(job.id) is job and job.group == "" and job.status == Status.DONE


def test_group_refuses_a_name_too_long_and_other_users_jobs(app, sched):
    client = login(app.test_client(), "alice")
    bobs = _done_job(sched, "bobs", owner="bob")
    assert client.post("/group", data={"job_ids[]": [bobs.id], "group_name": "x" * 201}).status_code == 400
    response = client.post("/group", data={"job_ids[]": [bobs.id], "group_name": "mine"})
    assert response.status_code == 400 and "only its owner (bob)" in _not_done(response.get_json())[bobs.id]
    assert bobs.group == ""


def test_home_page_offers_the_selection_actions(app, sched):
    client = login(app.test_client(), "alice")
    job = _done_job(sched, "listed")
    page = client.get("/").get_data(as_text=True)
    assert f'class="form-check-input job-select" type="checkbox" value="{job.id}"' in page
    for element in ("selection-bar", "btn-group-selected", "btn-abort-selected", "btn-delete-selected",
                    "js/home_selection.js"):
        assert element in page
    script = client.get("/static/js/home_selection.js").get_data(as_text=True)
    assert '"/abort_jobs"' in script and '"job_ids[]"' in script and '"DELETE"' in script
