"""A diverged run's NaN/inf values reach browsers and scripts as null: strict JSON everywhere."""
import json
import math

import pytest
from fake_kind import make_fake_job
from flask import render_template_string

from digits.utils.finite_json import finite


def _strict(text):
    def refuse(name):
        raise AssertionError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


def test_finite_replaces_nan_and_infinities_at_any_depth():
    value = {"a": [1.0, math.nan, {"b": math.inf}], "c": (-math.inf, 2), "d": "NaN"}
    assert finite(value) == {"a": [1.0, None, {"b": None}], "c": [None, 2], "d": "NaN"}


@pytest.fixture
def app(make_app):
    return make_app(plugins=["fake_kind"])


def test_job_json_and_pages_carry_null_for_nan(app, jobs_dir):
    job = make_fake_job(jobs_dir)
    job.tasks[0].results = {"train_loss": math.nan}
    job.tasks[0].metrics = {"train/loss": [[1, 0.5], [2, math.nan], [3, math.inf]]}
    app.extensions["digits"]["scheduler"].add_job(job)
    data = _strict(app.test_client().get(f"/jobs/{job.id}.json").get_data(as_text=True))
    assert data["tasks"][0]["results"]["train_loss"] is None
    with app.test_request_context():
        assert _strict(render_template_string("{{ x|tojson }}", x=job.tasks[0].metrics)) == {
            "train/loss": [[1, 0.5], [2, None], [3, None]]}


def test_job_json_on_disk_and_served_by_files_is_strict(app, jobs_dir):
    # A diverged run used to write a bare NaN into job.json, which /files served to JSON.parse.
    job = make_fake_job(jobs_dir)
    job.tasks[0].results = {"train_loss": math.nan}
    job.tasks[0].metrics = {"train/loss": [[1, 0.5], [2, math.nan]]}
    app.extensions["digits"]["scheduler"].add_job(job)
    with open(f"{job.dir}/job.json") as f:
        on_disk = _strict(f.read())
    assert on_disk["tasks"][0]["state"]["results"]["train_loss"] is None
    served = _strict(app.test_client().get(f"/files/{job.id}/job.json").get_data(as_text=True))
    assert served["tasks"][0]["state"]["metrics"]["train/loss"] == [[1, 0.5], [2, None]]


def test_dataset_json_is_strict(tmp_path):
    from digits.dataset.files import atomic_write_json
    atomic_write_json(str(tmp_path / "dataset.json"), {"mean": math.nan, "n": [math.inf, 1]})
    assert _strict((tmp_path / "dataset.json").read_text()) == {"mean": None, "n": [None, 1]}
