"""A pretrained model's page and the inference pieces it shares with model pages: server path fields
complete through /autocomplete/path, and classify-one percentages stay readable beside their bars."""
import re

from digits.pretrained_model.job import PretrainedModelJob
from digits.status import Status
from tests.helpers import login


def _pretrained_page(app):
    sched = app.extensions["digits"]["scheduler"]
    job = PretrainedModelJob(sched.jobs_dir, "cats", "fred")
    job.extra.update(framework="torch", network_file="network.py",
                     info={"input_shape": [3, 8, 8], "parameters": 10, "layers": ["fc"], "source": "upload"})
    job.set_status(Status.DONE)
    sched.jobs[job.id] = job
    response = login(app.test_client(), "fred").get(f"/pretrained_models/{job.id}")
    assert response.status_code == 200, response.data
    return response.get_data(as_text=True)


def test_inference_path_fields_complete_server_paths(app):
    page = _pretrained_page(app)
    for field in ("image_path", "image_folder_many", "image_folder_top"):
        tag = re.search(rf'<input[^>]*id="{field}"[^>]*>', page).group(0)
        assert 'list="path-suggestions"' in tag and "path-autocomplete" in tag, tag
    assert '<datalist id="path-suggestions">' in page
    assert re.search(r'<script src="/static/js/path_complete\.js"', page)


def test_path_completion_script_is_served_and_asks_the_server(app):
    script = app.test_client().get("/static/js/path_complete.js")
    assert script.status_code == 200
    assert "/autocomplete/path?query=" in script.get_data(as_text=True)


def test_prediction_percentages_are_beside_their_bars(app):
    with app.test_request_context():
        macros = app.jinja_env.get_template("models/images/classification/_inference_macros.html").module
        html = str(macros.predictions_table([("cat", 97.25), ("dog", 0.5)]))
    rows = re.findall(r"<tr>.*?</tr>", html, re.S)
    assert len(rows) == 2
    for row, (label, text) in zip(rows, (("cat", "97.25%"), ("dog", "0.50%"))):
        bar = re.search(r'<div class="progress-bar[^"]*"[^>]*>(.*?)</div>', row, re.S)
        assert bar and bar.group(1).strip() == "", "text inside a narrow bar is cut off"
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        assert cells[0] == label and cells[-1].strip() == text
    assert 'style="width: 0.5%"' in rows[1]
