"""A real server process: starts with one command, survives SIGKILL mid-job, finishes the job."""
import json
import os
import signal
import subprocess
import sys

import pytest
import requests

from tests.helpers import Server, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture
def servers(jobs_dir, tmp_path):
    made = []

    def factory():
        server = Server(jobs_dir, tmp_path, plugins="fake_kind", pythonpath=HERE).start()
        made.append(server)
        return server

    yield factory
    for server in made:
        if server.proc.poll() is None:
            server.kill(signal.SIGTERM)
    # any task subprocess still running is killed by its job dir marker
    subprocess.run(["pkill", "-9", "-f", jobs_dir], check=False)


def test_version_flag():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "digits-devserver"), "--version"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("DIGITS ")


@pytest.mark.parametrize("name,value,expected", [
    ("DIGITS_PORT", "abc", "DIGITS_PORT must be an integer, not 'abc'"),
    ("DIGITS_GPUS", "0,x", "DIGITS_GPUS must be GPU indexes"),
    ("DIGITS_CPU_TRAIN_SLOTS", "0", "DIGITS_CPU_TRAIN_SLOTS must be at least 1"),
])
def test_bad_setting_is_a_clear_message(tmp_path, name, value, expected):
    env = dict(os.environ, DIGITS_JOBS_DIR=str(tmp_path / "jobs"), DIGITS_HOST="127.0.0.1", **{name: value})
    out = subprocess.run([sys.executable, os.path.join(ROOT, "digits-devserver"), "--port", "0"],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 2 and expected in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_server_killed_mid_job_resumes_on_restart(servers, jobs_dir):
    server = servers()
    session = requests.Session()
    assert session.post(f"{server.url}/login", data={"username": "fred"}).status_code == 200
    response = session.post(f"{server.url}/test/fake.json", data={"name": "survivor", "steps": 60, "sleep": 0.1})
    job_id = response.json()["id"]
    assert session.get(f"{server.url}/").status_code == 200

    def progressed():
        return session.get(f"{server.url}/datasets/{job_id}/status").json()["progress"] >= 15

    wait_for(progressed, timeout=60, interval=0.2, message="job progress")
    server.kill()
    server = servers()
    status = session.get(f"{server.url}/datasets/{job_id}/status").json()
    assert status["status"] in ("Waiting", "Running", "Done")
    wait_for(lambda: session.get(f"{server.url}/datasets/{job_id}/status").json()["status"] == "Done",
             timeout=90, interval=0.3, message="job to finish after restart")
    with open(os.path.join(jobs_dir, job_id, "job.json")) as f:
        data = json.load(f)
    steps = [p[0] for p in data["tasks"][0]["state"]["metrics"]["train/loss"]]
    assert steps == list(range(1, 61)), "metric history is not continuous"
    assert data["extra"]["restarts"][0][0] == "server restarted"
