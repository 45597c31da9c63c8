"""Identity that can be trusted: a signed session instead of a bare `username` cookie, and the optional
password mode (accounts, API tokens, admins, nothing readable before logging in)."""
import os
import stat
import subprocess
import sys

import pytest
from fake_kind import make_fake_job

from digits.users import UserStore
from tests.helpers import ROOT, login, wait_status

PASSWORD = "correct horse"


@pytest.fixture
def fake_app(make_app):
    return make_app(plugins=["fake_kind"])


def _job(app, owner="alice", **kw):
    job = make_fake_job(app.extensions["digits"]["config"]["jobs_dir"], owner=owner, **kw)
    app.extensions["digits"]["scheduler"].add_job(job)
    return job


def test_a_forged_username_cookie_is_anonymous(fake_app):
    job = _job(fake_app, steps=200, sleep=0.05)
    mallory = fake_app.test_client()
    mallory.set_cookie("username", "alice")       # DIGITS' old unsigned identity cookie
    assert mallory.get("/whoami").get_json()["username"] is None
    assert mallory.put(f"/jobs/{job.id}.json", data={"job_name": "pwned"}).status_code == 401
    assert mallory.post(f"/jobs/{job.id}/abort.json").status_code == 401
    assert mallory.delete(f"/jobs/{job.id}.json").status_code == 401
    assert job.name == "fake" and job.id in fake_app.extensions["digits"]["scheduler"].jobs
    fake_app.extensions["digits"]["scheduler"].abort_job(job)


def test_an_edited_session_cookie_is_anonymous(fake_app):
    alice = login(fake_app.test_client(), "alice")
    cookie = alice.get_cookie("digits_session")
    assert cookie is not None and "alice" not in cookie.value   # signed, and not the bare name
    mallory = fake_app.test_client()
    mallory.set_cookie("digits_session", cookie.value.replace(".", "x", 1))
    assert mallory.get("/whoami").get_json()["username"] is None
    other_key = make_other_app_cookie(fake_app)
    mallory.set_cookie("digits_session", other_key)
    assert mallory.get("/whoami").get_json()["username"] is None


def make_other_app_cookie(app):
    """A well-formed session for alice signed with another key."""
    from flask import Flask
    from flask.sessions import SecureCookieSessionInterface
    other = Flask("other")
    other.secret_key = "not the server's key"
    return SecureCookieSessionInterface().get_signing_serializer(other).dumps({"_user_id": "alice"})


def test_405_names_the_allowed_methods(app):
    response = app.test_client().open("/index.json", method="TRACE")
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "HEAD"}
    assert response.get_json()["error"]["type"] == "MethodNotAllowed"


def test_secret_key_lives_in_the_jobs_folder_owner_only_and_is_never_served(make_app, jobs_dir):
    app = make_app(secret_key=None, plugins=["fake_kind"])
    path = os.path.join(jobs_dir, ".secret_key")
    assert os.path.isfile(path) and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not os.path.exists(os.path.join(os.path.dirname(jobs_dir), "secret_key"))
    assert app.config["SECRET_KEY"] == open(path).read().strip()
    job = _job(app)
    client = app.test_client()
    for url in ("/files/.secret_key", "/files/.users.json", f"/files/{job.id}/../.secret_key"):
        assert client.get(url).status_code == 404, url
    assert client.get(f"/files/{job.id}/job.json").status_code == 200
    # a restarted server keeps the key, so sessions survive
    assert make_app(secret_key=None).config["SECRET_KEY"] == app.config["SECRET_KEY"]


# ----- password mode

@pytest.fixture
def accounts(jobs_dir):
    store = UserStore(jobs_dir)
    store.add("alice", PASSWORD)
    store.add("bob", PASSWORD)
    store.add("root-admin", PASSWORD, role="admin")
    return store


@pytest.fixture
def locked_app(make_app, accounts):
    return make_app(auth="password", plugins=["fake_kind"])


def _login(app, name, password=PASSWORD):
    client = app.test_client()
    return client, client.post("/login.json", data={"username": name, "password": password})


def test_accounts_file_is_private_and_holds_no_clear_passwords(accounts):
    assert stat.S_IMODE(os.stat(accounts.path).st_mode) == 0o600
    assert PASSWORD not in open(accounts.path).read()


def test_password_login_and_wrong_password(locked_app):
    client, response = _login(locked_app, "alice")
    assert response.status_code == 200 and response.get_json() == {"username": "alice"}
    assert client.get("/whoami").get_json()["username"] == "alice"
    for name, password in (("alice", "wrong password"), ("nobody", PASSWORD), ("alice", "")):
        other, response = _login(locked_app, name, password)
        assert response.status_code == 401, (name, password)
        assert response.get_json()["error"]["message"] == "wrong user name or password"
        assert other.get("/whoami").get_json()["username"] is None
    page = locked_app.test_client().get("/login").get_data(as_text=True)
    assert 'type="password"' in page


def test_nothing_is_readable_before_logging_in(locked_app):
    job = _job(locked_app)
    anonymous = locked_app.test_client()
    for url in ("/index.json", f"/jobs/{job.id}.json", f"/jobs/{job.id}/status", f"/files/{job.id}/job.json",
                "/system.json", "/openapi.json", "/autocomplete/path?query=/tmp"):
        response = anonymous.get(url)
        assert response.status_code == 401, url
        assert "log in" in response.get_json()["error"]["message"]
    response = anonymous.get("/", headers={"Accept": "text/html"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert anonymous.get("/login").status_code == 200
    response = anonymous.post("/models/images/classification/classify_one.json", data={"job_id": job.id})
    assert response.status_code == 401
    # a name alone (open mode's login) is refused
    assert anonymous.post("/login.json", data={"username": "alice"}).status_code == 401


def test_live_updates_need_a_login_too(locked_app):
    socketio = locked_app.extensions["digits"]["socketio"]
    anonymous = socketio.test_client(locked_app, namespace="/jobs", flask_test_client=locked_app.test_client())
    assert not anonymous.is_connected("/jobs")
    client, _ = _login(locked_app, "alice")
    signed_in = socketio.test_client(locked_app, namespace="/jobs", flask_test_client=client)
    assert signed_in.is_connected("/jobs")
    signed_in.disconnect(namespace="/jobs")


def test_tokens_act_as_their_user_until_deleted(locked_app):
    client, _ = _login(locked_app, "alice")
    response = client.post("/user/tokens.json", data={"name": "nightly"})
    assert response.status_code == 200
    token, token_id = response.get_json()["token"], response.get_json()["id"]
    assert token not in open(os.path.join(locked_app.extensions["digits"]["config"]["jobs_dir"], ".users.json")).read()
    script = locked_app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    assert script.get("/whoami", headers=bearer).get_json()["username"] == "alice"
    created = script.post("/test/fake.json", data={"name": "from-a-script"}, headers=bearer)
    assert created.status_code == 200
    job = locked_app.extensions["digits"]["scheduler"].get_job(created.get_json()["id"])
    assert job.owner == "alice"
    assert [t["name"] for t in client.get("/user.json").get_json()["tokens"]] == ["nightly"]
    assert "digest" not in client.get("/user.json").get_json()["tokens"][0]
    assert script.get("/index.json", headers={"Authorization": "Bearer dgt_not-a-token"}).status_code == 401
    assert client.delete(f"/user/tokens/{token_id}.json").status_code == 200
    assert script.get("/index.json", headers=bearer).status_code == 401
    wait_status(job, ("Done", "Error"))


def test_admin_may_abort_and_delete_anyones_job_others_may_not(locked_app):
    job = _job(locked_app, owner="alice", steps=400, sleep=0.05)
    bob, _ = _login(locked_app, "bob")
    assert bob.post(f"/jobs/{job.id}/abort.json").status_code == 403
    assert bob.delete(f"/jobs/{job.id}.json").status_code == 403
    admin, _ = _login(locked_app, "root-admin")
    assert admin.get("/whoami").get_json()["admin"] is True
    assert admin.put(f"/jobs/{job.id}.json", data={"job_name": "renamed"}).status_code == 403   # edits: owner only
    assert admin.post(f"/jobs/{job.id}/abort.json").status_code == 200
    assert wait_status(job, ("Aborted",)) == "Aborted"
    assert admin.delete(f"/jobs/{job.id}.json").status_code == 200
    assert job.id not in locked_app.extensions["digits"]["scheduler"].jobs


def test_a_new_password_signs_old_sessions_out(locked_app, accounts):
    client, _ = _login(locked_app, "alice")
    accounts.set_password("alice", "another password")
    assert client.get("/index.json").status_code == 401
    assert _login(locked_app, "alice", PASSWORD)[1].status_code == 401
    client, response = _login(locked_app, "alice", "another password")
    assert response.status_code == 200
    response = client.post("/user/password.json", data={"current_password": "another password",
                                                       "new_password": "short"})
    assert response.status_code == 400 and "8 characters" in response.get_json()["error"]["message"]
    response = client.post("/user/password.json", data={"current_password": "another password",
                                                       "new_password": "a third password"})
    assert response.status_code == 200
    assert client.get("/index.json").status_code == 200     # signed in again with the new key
    accounts.remove("alice")
    assert client.get("/index.json").status_code == 401


def _cli(jobs_dir, *args, stdin=""):
    return subprocess.run([sys.executable, os.path.join(ROOT, "digits-devserver"), "users", "--jobs-dir", jobs_dir,
                           *args], input=stdin, capture_output=True, text=True, timeout=60)


def test_users_command_adds_changes_and_removes_accounts(jobs_dir):
    assert _cli(jobs_dir, "add", "carol", "--admin", "--password-stdin", stdin="a long password\n").returncode == 0
    store = UserStore(jobs_dir)
    assert store.role("carol") == "admin" and store.check_password("carol", "a long password")
    result = _cli(jobs_dir, "add", "carol", "--password-stdin", stdin="a long password\n")
    assert result.returncode == 1 and "exists already" in result.stderr
    result = _cli(jobs_dir, "add", "Bad!", "--password-stdin", stdin="a long password\n")
    assert result.returncode == 1 and "invalid username" in result.stderr
    result = _cli(jobs_dir, "add", "dave", "--password-stdin", stdin="short\n")
    assert result.returncode == 1 and "at least 8" in result.stderr
    assert _cli(jobs_dir, "passwd", "carol", "--password-stdin", stdin="a new long password\n").returncode == 0
    assert store.check_password("carol", "a new long password") and not store.check_password("carol", "a long password")
    assert _cli(jobs_dir, "role", "carol", "user").returncode == 0 and store.role("carol") == "user"
    assert "carol\tuser" in _cli(jobs_dir, "list").stdout
    assert _cli(jobs_dir, "remove", "carol").returncode == 0 and store.get("carol") is None
    assert _cli(jobs_dir, "remove", "carol").returncode == 1


def test_wrong_passwords_hold_back_that_name_from_that_address_only(locked_app):
    from digits.login_throttle import MAX_FAILURES
    client = locked_app.test_client()
    for _ in range(MAX_FAILURES):
        assert client.post("/login.json", data={"username": "alice", "password": "guess"}).status_code == 401
    held = client.post("/login.json", data={"username": "alice", "password": PASSWORD})
    assert held.status_code == 429
    assert "too many wrong passwords" in held.get_json()["error"]["message"]
    assert 1 <= int(held.headers["Retry-After"]) <= 300
    page = client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert page.status_code == 429 and b"too many wrong passwords" in page.data
    # the real user elsewhere, and another name from here, are not locked out
    other = locked_app.test_client()
    ok = other.post("/login.json", data={"username": "alice", "password": PASSWORD},
                    environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert ok.status_code == 200
    assert client.post("/login.json", data={"username": "bob", "password": PASSWORD}).status_code == 200


def test_throttle_window_and_success_reset():
    from digits.login_throttle import LoginThrottle
    now = [1000.0]
    throttle = LoginThrottle(max_failures=3, window_s=60, clock=lambda: now[0])
    for _ in range(2):
        throttle.failed("alice", "1.2.3.4")
    assert throttle.retry_after("alice", "1.2.3.4") == 0
    throttle.succeeded("alice", "1.2.3.4")   # a success forgets earlier failures
    for step in range(3):
        now[0] += 10
        throttle.failed("alice", "1.2.3.4")
    assert throttle.retry_after("alice", "1.2.3.4") == 40   # until the first of the three is 60 s old
    now[0] += 40
    assert throttle.retry_after("alice", "1.2.3.4") == 0
