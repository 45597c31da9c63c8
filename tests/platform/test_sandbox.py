"""Tasks and workers run users' code: they get an allowlisted environment (never the server's secrets)
and, with DIGITS_TASK_USER, run as that unprivileged user."""
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile

import pytest
from fake_kind import FakeJob

from digits.config import ConfigError, load_config
from digits.task import Task
from tests.helpers import wait_status

ENV_TOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "env_tool.py")
SECRETS = {"DIGITS_SECRET_KEY": "server-signing-key-1234", "AWS_SECRET_ACCESS_KEY": "aws-secret-5678",
           "GITHUB_TOKEN": "ghp-token-9012", "DB_PASSWORD": "db-password-3456", "TORCH_HUB_TOKEN": "hub-7890"}
TASK_USER = "digits-test-task"
# The user's code in a check worker tells what it sees through the error it raises.
SPY_NETWORK = ("import os\n"
               "def build(input_shape, num_classes):\n"
               "    raise RuntimeError('seen: uid=%d %s' % (os.getuid(), sorted(os.environ.items())))\n")


@pytest.fixture
def secrets_set(monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")


def _run_env_tool(app, *paths):
    sched = app.extensions["digits"]["scheduler"]
    job = FakeJob(app.extensions["digits"]["config"]["jobs_dir"], "env", "alice")
    job.tasks.append(Task("env", ENV_TOOL, paths, {"create_db": 1}))
    sched.add_job(job)
    wait_status(job, ("Done", "Error"), timeout=60)
    return job


def _identity(job):
    with open(os.path.join(job.dir, "identity.json")) as f:
        return json.load(f)


def _visualize_error(client, source):
    response = client.post("/models/visualize-network.json", data={"framework": "torch", "custom_network": source})
    assert response.status_code == 400, response.data
    return response.get_json()["error"]["message"]


def test_a_task_gets_none_of_the_servers_secrets(secrets_set, make_app):
    job = _run_env_tool(make_app())
    assert job.status == "Done", job.error()
    environ = _identity(job)["environ"]
    leaked = [name for name, value in SECRETS.items() if name in environ or value in json.dumps(environ)]
    assert leaked == []
    # what tools and libraries need still gets there
    assert environ["PATH"] == os.environ["PATH"] and environ["OMP_NUM_THREADS"] == "3"
    assert environ["CUDA_VISIBLE_DEVICES"] == "" and environ["PYTHONUNBUFFERED"] == "1"


def test_a_networks_code_in_a_check_worker_gets_none_of_the_servers_secrets(secrets_set, make_app):
    # check_workers=1: a pool of its own, whose worker starts with these variables set
    app = make_app(check_workers=1)
    from tests.helpers import login
    message = _visualize_error(login(app.test_client()), SPY_NETWORK)
    assert "seen: uid=" in message and "OMP_NUM_THREADS" in message
    assert [value for value in SECRETS.values() if value in message] == []


def test_python_networks_setting_and_unknown_task_user_are_start_up_errors(monkeypatch):
    monkeypatch.setenv("DIGITS_PYTHON_NETWORKS", "0")
    assert load_config()["python_networks"] is False
    monkeypatch.setenv("DIGITS_PYTHON_NETWORKS", "maybe")
    with pytest.raises(ConfigError, match="DIGITS_PYTHON_NETWORKS"):
        load_config()
    monkeypatch.delenv("DIGITS_PYTHON_NETWORKS")
    monkeypatch.setenv("DIGITS_TASK_USER", "no-such-user-here")
    with pytest.raises(ConfigError, match="DIGITS_TASK_USER='no-such-user-here': there is no such user"):
        load_config()
    monkeypatch.setenv("DIGITS_TASK_USER", "root")
    with pytest.raises(ConfigError, match="is root"):
        load_config()


@pytest.mark.skipif(os.geteuid() != 0, reason="warns only when the server runs as root")
def test_a_root_server_without_a_task_user_says_so(make_app, caplog):
    app = make_app()
    assert "DIGITS_TASK_USER is not set" in caplog.text
    client = app.test_client()
    assert client.get("/system.json").get_json()["task_user_warning"].startswith("The server runs as root")
    assert b'id="task-user-warning"' in client.get("/system").data


@pytest.fixture
def task_user():
    if os.geteuid() != 0 or not shutil.which("useradd"):
        pytest.skip("creating a task user needs root and useradd")
    created = False
    try:
        pwd.getpwnam(TASK_USER)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", TASK_USER], check=True)
        created = True
    yield pwd.getpwnam(TASK_USER)
    if created:   # leave the machine's accounts as they were
        subprocess.run(["userdel", TASK_USER], check=False)


@pytest.fixture
def task_python(task_user, monkeypatch):
    """An interpreter the task user may run: ours, else the system's for the stdlib-only test tool
    (ours may lie in a folder closed to others); None when it is not ours."""
    def become():
        os.setgroups([])
        os.setgid(task_user.pw_gid)
        os.setuid(task_user.pw_uid)
    try:
        subprocess.run([sys.executable, "-c", "pass"], cwd="/", preexec_fn=become, check=True)
        return sys.executable
    except (OSError, subprocess.CalledProcessError):
        pass
    if not os.path.exists("/usr/bin/python3"):
        pytest.skip("the task user can run no Python here")
    monkeypatch.setattr(sys, "executable", "/usr/bin/python3")
    return None


@pytest.fixture
def open_tmp():
    """A folder the task user may enter (pytest's tmp_path lies under a root-only folder)."""
    path = tempfile.mkdtemp(prefix="digits-sandbox-")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _task_user_app(make_app, open_tmp):
    return make_app(jobs_dir=os.path.join(open_tmp, "jobs"), allowed_roots=[open_tmp], task_user=TASK_USER)


def test_tasks_run_as_the_task_user_in_a_folder_of_theirs(task_user, task_python, make_app, open_tmp):
    readable = os.path.join(open_tmp, "images")
    os.makedirs(readable)
    app = _task_user_app(make_app, open_tmp)
    job = _run_env_tool(app, readable)
    assert job.status == "Done", job.error()
    seen = _identity(job)
    assert (seen["uid"], seen["gid"]) == (task_user.pw_uid, task_user.pw_gid)
    assert seen["environ"]["USER"] == TASK_USER and seen["environ"]["HOME"] == task_user.pw_dir
    assert os.stat(job.dir).st_uid == task_user.pw_uid   # its job folder is writable for it
    assert app.test_client().get("/system.json").get_json()["task_user"] == TASK_USER


def test_a_folder_the_task_user_cannot_read_fails_the_job_saying_so(task_user, task_python, make_app, open_tmp):
    private = os.path.join(open_tmp, "private")
    os.makedirs(os.path.join(private, "images"))
    os.chmod(private, 0o700)   # root's
    job = _run_env_tool(_task_user_app(make_app, open_tmp), os.path.join(private, "images"))
    assert job.status == "Error"
    assert f"the task user {TASK_USER} cannot read {private}/images (it may not enter {private})" in job.error()


def test_check_workers_run_as_the_task_user(task_user, task_python, make_app, open_tmp):
    if task_python is None:
        pytest.skip("the task user cannot run this server's Python (it lies in a folder closed to others)")
    from tests.helpers import login
    client = login(_task_user_app(make_app, open_tmp).test_client())
    assert f"seen: uid={task_user.pw_uid} " in _visualize_error(client, SPY_NETWORK)


def test_a_task_user_who_cannot_run_the_servers_python_is_a_start_up_error(task_user, monkeypatch, open_tmp):
    fake = os.path.join(open_tmp, "python")
    with open(fake, "w") as f:
        f.write("#!/bin/sh\necho 'cannot open the interpreter' >&2\nexit 1\n")
    os.chmod(fake, 0o700)   # root's only
    monkeypatch.setattr(sys, "executable", fake)
    with pytest.raises(ConfigError, match=f"DIGITS_TASK_USER='{TASK_USER}' cannot run this server's Python"):
        load_config({"task_user": TASK_USER})
