"""Helpers for tests: waiting for job states, logging in, a real server. `from tests.helpers import ...`."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wait_for(predicate, timeout=60, interval=0.05, message="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def wait_status(job, statuses, timeout=60):
    statuses = (statuses,) if isinstance(statuses, str) else tuple(statuses)
    wait_for(lambda: job.status in statuses, timeout, message=f"job {job.name} to be {statuses} (is {job.status})")
    # the in-memory status flips just before the scheduler saves it; tests read job.json next
    wait_for(lambda: _saved_status(job) in (job.status, None), timeout, message=f"job {job.name} saved")
    return job.status


def _saved_status(job):
    try:
        with open(os.path.join(job.dir, "job.json")) as f:
            return json.load(f)["status_history"][-1][0]
    except (OSError, ValueError, KeyError, IndexError):
        return None  # deleted, or a damaged job.json a test made on purpose


def login(client, name="alice"):
    response = client.post("/login", data={"username": name})
    assert response.status_code in (200, 302), response.data
    return client


def session_cookie(url, name):
    """The signed session cookie of a user logged in on a running server, as Playwright's add_cookies
    takes it (the identity is no longer a bare `username` cookie anyone could set)."""
    response = requests.post(f"{url}/login.json", data={"username": name}, timeout=30)
    assert response.status_code == 200, response.text
    return {"name": "digits_session", "value": response.cookies["digits_session"], "url": url}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`digits-devserver` in a subprocess on a free loopback port."""

    def __init__(self, jobs_dir, tmp_path, plugins="", pythonpath="", allowed_roots=None, env=None):
        self.jobs_dir, self.tmp_path, self.extra_env = jobs_dir, tmp_path, dict(env or {})
        self.plugins, self.pythonpath = plugins, pythonpath
        self.allowed_roots = allowed_roots or str(tmp_path)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self):
        env = dict(os.environ, DIGITS_PLUGINS=self.plugins, PYTHONPATH=os.pathsep.join(
                   p for p in (self.pythonpath, ROOT) if p), DIGITS_ALLOWED_ROOTS=self.allowed_roots, DIGITS_GPUS="",
                   **self.extra_env)
        self.log = open(os.path.join(str(self.tmp_path), f"server-{time.time()}.log"), "w")
        self.proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "digits-devserver"), "--host", "127.0.0.1",
                                      "--port", str(self.port), "--jobs-dir", self.jobs_dir],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        wait_for(self._up, timeout=60, interval=0.2, message="server to answer")
        return self

    def _up(self):
        assert self.proc.poll() is None, open(self.log.name).read()
        try:
            return requests.get(f"{self.url}/whoami", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        self.proc.wait(timeout=20)
        self.log.close()
