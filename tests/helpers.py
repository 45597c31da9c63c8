"""Helpers for tests: waiting for job states, logging in. Import as `from tests.helpers import ...`."""
import time


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
    return job.status


def login(client, name="alice"):
    response = client.post("/login", data={"username": name})
    assert response.status_code in (200, 302), response.data
    return client
