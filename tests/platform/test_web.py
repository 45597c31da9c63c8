"""REST and pages common to all jobs: identity, owners, traversal, bad input, Socket.IO."""
import io
import os

import pytest
import fake_nvml
from fake_kind import make_fake_job

from digits.status import Status
from tests.helpers import login, wait_for, wait_status


@pytest.fixture
def fake_app(make_app):
    return make_app(plugins=["fake_kind"])


def _new_job(app, client, **kw):
    response = client.post("/test/fake.json", data=kw)
    assert response.status_code == 200, response.data
    return app.extensions["digits"]["scheduler"].get_job(response.get_json()["id"])


def test_login_validates_username(app):
    client = app.test_client()
    assert client.post("/login", data={"username": "Fred!"}).status_code == 400
    assert client.post("/login", data={"username": "x"}).status_code == 400
    response = client.post("/login", data={"username": "fred"})
    assert response.status_code == 200 and "SameSite=Lax" in response.headers["Set-Cookie"]
    assert client.get("/whoami").get_json()["username"] == "fred"
    client.get("/logout")
    assert client.get("/whoami").get_json()["username"] is None


def test_creating_needs_login(fake_app):
    response = fake_app.test_client().post("/test/fake.json", data={"name": "x"})
    assert response.status_code == 401
    assert "login" in response.get_json()["error"]["message"]


def test_owner_only_may_edit_abort_delete(fake_app):
    alice = login(fake_app.test_client(), "alice")
    bob = login(fake_app.test_client(), "bob")
    anon = fake_app.test_client()
    job = _new_job(fake_app, alice, steps=200, sleep=0.05)
    wait_status(job, Status.RUN)
    for client, code in ((bob, 403), (anon, 401)):
        assert client.put(f"/jobs/{job.id}", data={"job_name": "stolen"}).status_code == code
        assert client.post(f"/jobs/{job.id}/abort").status_code == code
        assert client.delete(f"/datasets/{job.id}").status_code == code
    assert job.name == "fake" and job.is_active() and os.path.isdir(job.dir)
    assert bob.post(f"/datasets/{job.id}/abort").get_json()["error"]["type"] == "Forbidden"
    assert alice.post(f"/datasets/{job.id}/abort").status_code == 200
    wait_status(job, Status.ABORT)
    assert alice.post(f"/datasets/{job.id}/abort").status_code == 409


def test_resume_route_owner_only_and_continues(fake_app):
    alice = login(fake_app.test_client(), "alice")
    bob = login(fake_app.test_client(), "bob")
    job = _new_job(fake_app, alice, steps=40, sleep=0.05)
    wait_for(lambda: job.tasks[0].progress > 0.1, message="the fake tool to make progress")
    assert alice.post(f"/jobs/{job.id}/abort.json").status_code == 200
    wait_status(job, Status.ABORT)
    assert bob.post(f"/jobs/{job.id}/resume.json").status_code == 403
    response = alice.post(f"/datasets/{job.id}/resume.json")
    assert response.status_code == 200 and response.get_json()["id"] == job.id
    wait_status(job, Status.DONE)
    log = open(job.path(job.tasks[0].log_file)).read()
    assert "fake tool starting at step 0" in log
    assert any(line.startswith("fake tool starting at step ") and not line.endswith(" 0")
               for line in log.splitlines()), "the resumed run started over"
    assert alice.post(f"/jobs/{job.id}/resume.json").get_json()["error"]["type"] == "Conflict"


def test_rename_notes_and_bad_input(fake_app):
    alice = login(fake_app.test_client(), "alice")
    job = _new_job(fake_app, alice)
    response = alice.put(f"/jobs/{job.id}", data={"job_name": "renamed", "job_notes": "hello"})
    assert response.status_code == 200 and response.get_json()["name"] == "renamed"
    assert job.notes == "hello"
    assert alice.put(f"/jobs/{job.id}", data={"job_name": "  "}).status_code == 400
    assert alice.put(f"/jobs/{job.id}", data={}).status_code == 400
    assert alice.put(f"/jobs/{job.id}", data={"job_name": "x" * 500}).status_code == 400
    assert alice.put("/jobs/nope", data={"job_name": "y"}).status_code == 404
    assert job.name == "renamed"


def test_status_and_details_json(fake_app):
    alice = login(fake_app.test_client())
    job = _new_job(fake_app, alice, steps=2)
    wait_status(job, Status.DONE)
    status = alice.get(f"/datasets/{job.id}/status").get_json()
    assert status == {"status": "Done", "name": "fake", "type": "test-fake", "error": None, "progress": 100.0}
    details = alice.get(f"/datasets/{job.id}.json").get_json()
    assert details["tasks"][0]["status"] == "Done"
    assert alice.get(f"/models/{job.id}.json").status_code == 404     # it is a dataset, not a model
    page = alice.get(f"/datasets/{job.id}")
    assert page.status_code == 200 and b"Step 0" in page.data
    index = alice.get("/index.json").get_json()
    assert [d["id"] for d in index["datasets"]] == [job.id]
    assert alice.get("/completed_jobs.json").get_json()["datasets"][0]["id"] == job.id


def test_delete_refused_while_a_job_depends_on_it(fake_app, jobs_dir):
    alice = login(fake_app.test_client())
    sched = fake_app.extensions["digits"]["scheduler"]
    dataset = _new_job(fake_app, alice, steps=1)
    wait_status(dataset, Status.DONE)
    model = make_fake_job(jobs_dir, name="my-model", owner="alice", depends_on=[dataset.id])
    sched.add_job(model)
    wait_status(model, Status.DONE)
    response = alice.delete(f"/datasets/{dataset.id}")
    assert response.status_code == 403 and "my-model" in response.get_json()["error"]["message"]
    assert os.path.isdir(dataset.dir)
    assert alice.delete(f"/jobs/{model.id}").status_code == 200
    assert alice.delete(f"/datasets/{dataset.id}.json").status_code == 200
    assert not os.path.exists(dataset.dir) and sched.get_job(dataset.id) is None


@pytest.mark.parametrize("path", ["../secret.txt", "..%2fsecret.txt", "%2e%2e/secret.txt", "/etc/passwd",
                                  "job/../../secret.txt", "..", ""])
def test_files_refuses_traversal(app, jobs_dir, path):
    with open(os.path.join(os.path.dirname(jobs_dir), "secret.txt"), "w") as f:
        f.write("TOP-SECRET-CONTENT")
    response = app.test_client().get(f"/files/{path}", follow_redirects=True)
    assert response.status_code == 404
    assert b"TOP-SECRET-CONTENT" not in response.data


def test_files_serves_job_files(fake_app, jobs_dir):
    alice = login(fake_app.test_client())
    job = _new_job(fake_app, alice, steps=1)
    wait_status(job, Status.DONE)
    response = alice.get(f"/files/{job.id}/step0.log")
    assert response.status_code == 200 and b"log line for step 0" in response.data


def test_a_browser_form_post_error_is_a_page(make_app):
    client = login(make_app(max_upload_bytes=100).test_client())
    browser = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Site": "same-origin", "Accept": "text/html"}
    response = client.post("/datasets/images/classification", headers=browser,
                           data={"folder_train_archive": (io.BytesIO(b"x" * 1000), "big.zip")})
    assert response.status_code == 413 and response.mimetype == "text/html"
    assert 'id="error-message"' in response.get_data(as_text=True)
    script = client.post("/datasets/images/classification.json",
                         data={"folder_train_archive": (io.BytesIO(b"x" * 1000), "big.zip")})
    assert script.status_code == 413 and script.get_json()["error"]["type"] == "RequestEntityTooLarge"


def test_odd_requests_get_4xx_not_500(app):
    client = app.test_client()
    assert client.post("/login", json=["x"]).status_code == 400
    assert client.post("/login", json={"username": 5}).status_code == 400
    assert client.get("/files/%00").status_code == 404
    assert client.get("/files/a%00b/job.json").status_code == 404


def test_autocomplete_stays_inside_allowed_roots(app, tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "cats").mkdir()
    (tmp_path / "link-out").symlink_to("/etc")
    client = app.test_client()
    found = client.get(f"/autocomplete/path?query={tmp_path}/images/c").get_json()
    assert found["suggestions"] == [f"{tmp_path}/images/cats/"]
    for query in ("/etc/pa", f"{tmp_path}/../../etc/", f"{tmp_path}/link-out/pas"):
        response = client.get(f"/autocomplete/path?query={query}")
        data = response.get_json()
        assert response.status_code == 400 and data["suggestions"] == [] and "outside" in data["error"]["message"]


def test_csrf_required_for_browser_posts(make_app):
    app = make_app(plugins=["fake_kind"], testing=False)
    client = app.test_client()
    # a browser (Origin header) without the token is refused; scripts without Origin are not
    response = client.post("/login", data={"username": "fred"}, headers={"Origin": "http://evil.example"})
    assert response.status_code == 400 and "CSRF" in response.get_json()["error"]["message"]
    assert client.post("/login", data={"username": "fred"}).status_code == 200
    # a browser form with the page's token passes; the token is bound to the session
    import re
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    browser = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    response = client.post("/login", data={"username": "fred", "csrf_token": token}, headers=browser)
    assert response.status_code == 302
    for path in ("/datasets/images/classification", "/models/images/classification", "/test/fake.json"):
        response = client.post(path, data={"dataset_name": "x"}, headers=browser)
        assert response.status_code == 400 and "CSRF" in response.get_json()["error"]["message"]
    assert not app.extensions["digits"]["scheduler"].jobs


def test_errors_are_json_for_api_and_html_for_pages(app):
    client = app.test_client()
    response = client.get("/datasets/nope.json")
    assert response.status_code == 404 and response.get_json()["error"]["type"] == "NotFound"
    page = client.get("/datasets/nope")
    assert page.status_code == 404 and b"not found" in page.data


def test_home_and_system_pages_render(fake_app):
    alice = login(fake_app.test_client())
    job = _new_job(fake_app, alice, steps=1)
    wait_status(job, Status.DONE)
    home = alice.get("/")
    assert home.status_code == 200 and job.name.encode() in home.data and b"/vendor/chart.umd.min.js" in home.data
    system = alice.get("/system")
    assert system.status_code == 200 and b"No GPU found" in system.data
    assert alice.get("/system.json").get_json()["gpus"] == []


def test_socketio_events_reach_clients(fake_app):
    socketio = fake_app.extensions["digits"]["socketio"]
    alice = login(fake_app.test_client())
    home = socketio.test_client(fake_app, namespace="/jobs")
    home.emit("join", {"room": "job_management"}, namespace="/jobs")
    job = _new_job(fake_app, alice, steps=3)
    page = socketio.test_client(fake_app, namespace="/jobs")
    page.emit("join", {"room": job.id}, namespace="/jobs")
    wait_status(job, Status.DONE)
    updates, task_events = [], []

    def received_all():   # events arrive a little after the status flips; collect until all are in
        updates.extend(e["args"][0] for e in home.get_received("/jobs") if e["name"] == "job update")
        task_events.extend(e["args"][0] for e in page.get_received("/jobs") if e["name"] == "task update")
        return (any(u["update"] == "added" and u["job_id"] == job.id for u in updates)
                and any(u["update"] == "status" and u["status"] == "Done" for u in updates)
                and {"status", "progress", "log", "combined_graph"} <= {e["update"] for e in task_events}
                and any(e["update"] == "progress" and e["percentage"] == 100.0 for e in task_events)
                and any(e["update"] == "log" and e["line"] == "a note on stderr" for e in task_events))

    wait_for(received_all, timeout=20, message="socket.io events")
    home.disconnect(namespace="/jobs")
    page.disconnect(namespace="/jobs")


def test_system_page_shows_each_gpu_from_nvml(make_app, monkeypatch):
    fake_nvml.install(monkeypatch)
    app = make_app(gpus=None)   # None: ask NVML, as a real server does
    client = app.test_client()
    data = client.get("/system.json").get_json()
    assert [g["name"] for g in data["gpus"]] == ["Tesla T4", "A100-SXM4-80GB"]
    assert data["gpus"][1] == {"index": 1, "name": "A100-SXM4-80GB", "memory_total": 80 * 2**30,
                               "memory_used": 40 * 2**30, "utilization": 91, "memory_utilization": 10,
                               "temperature": 71}
    assert data["resources"]["gpus"] == [0, 1]
    page = client.get("/system").get_data(as_text=True)
    assert 'id="gpu-table"' in page and "A100-SXM4-80GB" in page and "71 °C" in page and "91%" in page
    assert "No GPU found" not in page
