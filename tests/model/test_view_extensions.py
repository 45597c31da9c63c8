"""View extensions (digits.extensions.view): the registry, each built-in's JSON and fragment for a made-up
result, and a plugin view offered on a generic model's page and used when chosen."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from digits.extensions import view as views
from digits.extensions.view.image_output import as_image
from tests.model.test_generic_models import (PYTHON_NET, _png, _train, env, gradient, gradients,  # noqa: F401
                                             make_dataset)

REGRESSION = {"outputs": {"output": [0.25, -1.5]}, "values": [0.25, -1.5]}


def _context(**extra):
    return dict({"name": "x.png", "index": 0, "task_type": "regression", "labels": [], "input_image": None,
                 "input_shape": [1, 4, 4]}, **extra)


def test_the_registry_finds_the_built_ins_and_names_the_choices_for_an_unknown_id():
    ids = [v.extension_id for v in views.views()]
    assert ids[:3] == ["all-raw-data", "image-image-output", "image-classification-top-n"]
    assert views.get_view("all-raw-data").title == "Raw data"
    assert views.default_view("classification").extension_id == "image-classification-top-n"
    assert views.default_view("regression").extension_id == "all-raw-data"
    assert views.default_view("multilabel").extension_id == "all-raw-data"
    assert "image-classification-top-n" not in [v.extension_id for v in views.views("regression")]
    with pytest.raises(views.ViewError, match=r"unknown view extension 'nope' \(use one of: all-raw-data"):
        views.get_view("nope")
    with pytest.raises(views.ViewError, match="does not apply to regression models"):
        views.choose("image-classification-top-n", "regression")
    assert views.choose("", "regression") is views.get_view("all-raw-data")
    with pytest.raises(ValueError, match="already registered"):
        views.register(type(views.get_view("all-raw-data")))


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NO_TORCH = """
import json, sys
from digits.extensions import view as views
from digits.model.images.generic import views as routes
result = {"outputs": {"output": list(range(16))}, "values": list(range(16))}
context = {"input_image": None, "input_shape": [1, 4, 4], "index": 0, "name": "x", "task_type": "regression"}
keys = [sorted(v.json(result, context)) for v in views.views()]
print(json.dumps({"keys": keys, "torch": sorted(m for m in sys.modules if m.split(".")[0] == "torch")}))
"""


def test_the_views_and_the_infer_routes_load_no_torch():
    done = subprocess.run([sys.executable, "-c", NO_TORCH], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer == {"keys": [["raw_data"], ["image_output"], ["top_n"], ["bounding_boxes"], []], "torch": []}


def test_raw_data_lists_every_number_and_draws_long_vectors(app):
    raw = views.get_view("all-raw-data")
    assert raw.json(REGRESSION, _context()) == {
        "raw_data": {"output": {"shape": [2], "min": -1.5, "max": 0.25, "mean": -0.625}}}
    merged = views.with_view(raw, dict(REGRESSION, view=raw.extension_id), _context())
    assert merged["values"] == [0.25, -1.5] and merged["raw_data"]["output"]["shape"] == [2]
    long = {"outputs": {"output": list(np.linspace(-1, 1, 20)), "aux": [3.0]}}
    with app.test_request_context():
        short_page = raw.fragment(REGRESSION, _context())
        long_page = raw.fragment(long, _context())
    assert "0.25, -1.5" in short_page and "<svg" not in short_page
    assert long_page.count("<rect") == 20 and 'data-blob="aux"' in long_page
    assert "#440154" in long_page and "#fde725" in long_page   # the scale's two ends: lowest and highest


def test_image_output_shows_the_input_and_outputs_with_an_image_shape(app):
    image = views.get_view("image-image-output")
    assert image.wants_input_image and image.applies_to("anything")
    result = {"outputs": {"flat": list(range(16)), "map": [[0.0, 1.0], [1.0, 0.0]], "scores": [1.0, 2.0]}}
    data = image.json(result, _context(input_image="data:image/png;base64,AAAA"))
    names = [i["name"] for i in data["image_output"]]
    assert names == ["input", "flat", "map"]   # "scores" is no image
    flat = data["image_output"][1]
    assert flat["shape"] == [1, 4, 4] and flat["src"].startswith("data:image/png;base64,")
    assert as_image(list(range(48)), [3, 4, 4]).shape == (3, 4, 4) and as_image([1.0, 2.0], [1, 4, 4]) is None
    with app.test_request_context():
        page = image.fragment(result, _context())
        none = image.fragment({"outputs": {"scores": [1.0]}}, _context())
    assert page.count("<img") == 2 and "No output has an image shape" not in page
    assert "No output has an image shape" in none


def test_top_n_draws_the_predictions_as_bars(app):
    top = views.get_view("image-classification-top-n")
    result = {"outputs": {"output": [3.0, 1.0]}, "predictions": [["cat", 88.08], ["dog", 11.92]]}
    assert top.json(result, _context(task_type="classification")) == {"top_n": [["cat", 88.08], ["dog", 11.92]]}
    multilabel = {"labels": [{"label": "a", "probability": 0.2, "on": False},
                             {"label": "b", "probability": 0.9, "on": True}]}
    assert top.json(multilabel, _context(task_type="multilabel"))["top_n"] == [["b", 90.0], ["a", 20.0]]
    with app.test_request_context():
        page = top.fragment(result, _context(task_type="classification", index=3))
    assert 'id="predictions-3"' in page and "width: 88.08%" in page and "cat" in page


class Biggest(views.ViewExtension):
    """A plugin's view: the largest output value."""
    extension_id = "test-biggest"
    title = "Biggest output"

    def json(self, result, context):
        return {"biggest": max(max(v) for v in result["outputs"].values())}

    def fragment(self, result, context):
        from flask import render_template_string
        return render_template_string('<p class="biggest">{{ b }} for {{ name }}</p>',
                                      b=self.json(result, context)["biggest"], name=context["name"])


@pytest.fixture
def biggest():
    views.register(Biggest)
    yield
    views.unregister(Biggest.extension_id)


def test_a_registered_view_is_offered_on_the_model_page_and_used_when_chosen(env, biggest):
    app, client, sched, root = env
    dataset = make_dataset(client, sched, str(root / "data"), gradients, count=(40, 10))
    model = _train(client, sched, dataset, method="custom", framework="torch", custom_network=PYTHON_NET,
                   task_type="regression", train_epochs="1")
    page = client.get(f"/models/{model.id}").get_data(as_text=True)
    select = re.search(r'<select[^>]*id="view_extension_id_one".*?</select>', page, re.S).group(0)
    assert re.findall(r'value="([^"]+)"', select) == ["all-raw-data", "image-image-output", "test-biggest"]
    assert 'action="/models/images/generic/infer_db"' in page and 'id="view_extension_id_db"' in page
    ramp = {"job_id": model.id, "view_extension_id": "test-biggest"}
    answer = client.post("/models/images/generic/infer_one.json",
                         data=dict(ramp, image_file=(_png(gradient(0.5, 0.5)), "ramp.png"))).get_json()
    assert answer["view"] == "test-biggest" and answer["biggest"] == max(answer["outputs"]["output"])
    html = client.post("/models/images/generic/infer_one",
                       data=dict(ramp, image_file=(_png(gradient(0.5, 0.5)), "r.png")))
    assert html.status_code == 200 and b'<p class="biggest">' in html.data and b"for r.png" in html.data
    default = client.post("/models/images/generic/infer_one.json",
                          data={"job_id": model.id, "image_file": (_png(gradient(0.5, 0.5)), "ramp.png")}).get_json()
    assert default["view"] == "all-raw-data" and default["raw_data"]["output"]["shape"] == [2]
    shown = client.post("/models/images/generic/infer_one.json", data={
        "job_id": model.id, "view_extension_id": "image-image-output",
        "image_file": (_png(gradient(0.5, 0.5)), "ramp.png")}).get_json()
    assert [i["name"] for i in shown["image_output"]] == ["input"] and "input_image" not in shown
    for bad, message in (("nope", "unknown view extension"), ("image-classification-top-n", "does not apply")):
        response = client.post("/models/images/generic/infer_one.json",
                               data={"job_id": model.id, "view_extension_id": bad,
                                     "image_file": (_png(gradient(0.5, 0.5)), "ramp.png")})
        assert response.status_code == 400 and message in response.get_json()["error"]["message"]
