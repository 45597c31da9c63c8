"""The example plugins' parts and the server's hooks for them, in process: the examples are imported from
their source folders (no pip install, no server; test_example_plugins.py does those) and registered for one
test. Each test here pins a defect found trying the examples as a user."""
import base64
import io
import json
import os
import re

import numpy as np
import pytest
from PIL import Image

import digits.extensions.data as data_extensions
from digits.status import Status
from tests.helpers import ROOT

EXAMPLES = os.path.join(ROOT, "examples", "plugins")


@pytest.fixture
def text_plugin(monkeypatch):
    """The text-classification example, importable and registered as a data extension (and its network)."""
    monkeypatch.syspath_prepend(os.path.join(EXAMPLES, "text-classification"))
    import digits.networks as networks
    import digits_text_classification as text
    from digits_text_classification.network import CHAR_CNN
    extension = data_extensions.register(text.TextClassificationExtension)
    monkeypatch.setattr(networks, "_plugins", [*networks.plugin_networks(), CHAR_CNN])
    yield text, extension
    data_extensions.unregister(extension.extension_id)


def _png_uri(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_the_text_view_shows_the_users_own_text_with_its_accents(text_plugin):
    from digits_text_classification.encoding import encode
    from digits_text_classification.view import TextTopClasses
    typed = "Café naïve — the CONCERT, ☃"
    result = {"predictions": [["music", 91.0], ["travel", 9.0]]}
    answer = TextTopClasses().json(result, {"name": typed, "input_image": _png_uri(encode(typed, 64))})
    assert answer["text"] == typed and answer["top_classes"][0] == {"label": "music", "percent": 91.0}
    # a database record is known by its key: its text is what the network read
    record = TextTopClasses().json(result, {"name": "00000003", "input_image": _png_uri(encode("Café bar", 64))})
    assert record["text"] == "caf? bar"


def test_a_csv_that_is_not_utf8_is_a_field_error_saying_so(text_plugin, client, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("music,caf\xe9 song\ntravel,beach\n".encode("latin-1"))
    response = client.post("/datasets/generic/create/text-classification.json",
                           data={"dataset_name": "t", "train_file": str(path)})
    assert response.status_code == 400
    message = response.get_json()["errors"]["train_file"][0]
    assert message == f"{path} is not UTF-8 text (byte 0xe9 at position 9): save it as UTF-8"


def _selected(page, select_id):
    select = re.search(rf'<select[^>]*id="{select_id}"[^>]*>(.*?)</select>', page, re.S).group(1)
    return re.findall(r'<option selected value="([^"]*)"', select)


def test_the_model_page_of_a_kind_opens_on_the_task_type_its_labels_train(text_plugin, client):
    page = client.get("/models/images/generic/new/text-classification").get_data(as_text=True)
    assert _selected(page, "task_type") == ["classification"] and _selected(page, "method") == ["standard"]
    assert _selected(page, "standard_networks") == ["char_cnn"] and _selected(page, "framework") == ["torch"]
    page = client.get("/models/images/generic/new/image-segmentation").get_data(as_text=True)
    assert _selected(page, "task_type") == ["segmentation"]
    page = client.get("/models/images/generic/new").get_data(as_text=True)   # no kind: as before
    assert _selected(page, "task_type") == ["regression"] and _selected(page, "method") == ["custom"]


class _Job:
    def __init__(self, dataset_dir):
        self.dataset_dir = dataset_dir

    def train_config(self):
        return {"dataset_dir": self.dataset_dir}


def test_a_text_model_asked_without_text_or_image_says_it_takes_text(text_plugin, tmp_path):
    from digits.inference.errors import InferenceError
    from digits.model.images.generic.extension_inputs import one_input
    (tmp_path / "extension.json").write_text(json.dumps({"extension_id": "text-classification",
                                                         "params": {"max_length": 16}}))
    job = _Job(str(tmp_path))
    with pytest.raises(InferenceError) as refused:
        one_input(job, {"text": "  "}, {})
    assert refused.value.args[0] == ("give text to classify (text), or an image: upload image_file or set "
                                     "image_path")
    assert one_input(job, {"text": "", "image_path": "/data/a.png"}, {}) is None   # the image is used
    upload, shown = one_input(job, {"text": "Stock market"}, {})
    assert shown == "Stock market" and upload["name"] == "Stock market"


def test_the_gradient_view_keeps_the_images_proportions(app, monkeypatch):
    monkeypatch.syspath_prepend(os.path.join(EXAMPLES, "image-gradients"))
    from digits_image_gradients.view import GradientView
    with app.test_request_context():
        html = GradientView().fragment({"values": [0.5, -0.2]}, {"index": 0, "input_shape": [1, 12, 20],
                                                                 "input_image": _png_uri(np.zeros((12, 20), np.uint8))})
    assert html.count('width="128" height="77"') == 2, html


def test_a_class_dataset_of_a_kind_names_its_kind_and_classes(text_plugin, app, client):
    from digits.dataset.extension.job import ExtensionDatasetJob
    sched = app.extensions["digits"]["scheduler"]
    _text, extension = text_plugin
    job = ExtensionDatasetJob.create(sched.jobs_dir, "topics", "fred", "", {}, extension, {"max_length": 16})
    with open(job.path("dataset.json"), "w") as f:
        json.dump({"kind": "generic", "extension_id": extension.extension_id, "image_dims": [69, 16, 1],
                   "label_dims": [1], "label_dtype": "float", "num_classes": 2, "encoded": True,
                   "splits": {"train": {"count": 4, "db": "x", "labels_db": "y"}}}, f)
    with open(job.path("labels.txt"), "w") as f:
        f.write("music\ntravel\n")
    job.set_status(Status.DONE)
    sched.jobs[job.id] = job
    page = client.get(f"/datasets/{job.id}").get_data(as_text=True)
    assert '<td id="dataset-kind">Text classification (CSV)</td>' in page
    assert '<td id="label-kind">class ids</td>' in page and '<td id="dataset-classes">2: music, travel</td>' in page


def test_text_samples_are_named_by_their_line_in_the_file(text_plugin, tmp_path):
    text, extension = text_plugin
    path = tmp_path / "val.csv"
    path.write_text('label,text\nmusic,"a song,\nover two lines"\n\ntravel,\nfinance,stock bank\n', encoding="utf-8")
    params = {"train_file": str(path), "val_file": str(path), "classes": ["finance", "music", "travel"]}
    samples = extension.samples(params, "val")
    assert [s["path"] for s in samples] == [f"{path}, line {n}" for n in (2, 5, 6)]   # as the skip report names them
    assert samples[0]["text"] == "a song,\nover two lines"
    with pytest.raises(text.SkipSample, match="empty text"):
        extension.read({"classes": params["classes"], "max_length": 16}, samples[1])
