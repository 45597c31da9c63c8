"""Shared fixtures: an app on a temporary jobs dir, logged-in clients, waiting for job states."""
import os
import sys
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tests.helpers import login  # noqa: E402


@pytest.fixture
def jobs_dir(tmp_path):
    path = tmp_path / "jobs"
    path.mkdir()
    return str(path)


@pytest.fixture
def make_app(jobs_dir, tmp_path):
    """Builds apps on the same jobs dir; stops their schedulers (and subprocesses) afterwards."""
    apps = []

    def factory(**overrides):
        from digits.webapp import create_app
        config = {"jobs_dir": jobs_dir, "async_mode": "threading", "testing": True,
                  "allowed_roots": [str(tmp_path)], "gpus": [], "abort_grace_seconds": 2,
                  "secret_key": "test"}
        config.update(overrides)
        app = create_app(config)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions["digits"]["scheduler"].stop()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return login(app.test_client())
