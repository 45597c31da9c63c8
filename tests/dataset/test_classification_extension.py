"""Image classification is a data extension: the registry lists it, the menus once, and its tools and
form go through it — a subclass with another read(), list_samples() or plan() changes what they make."""
import os
import re
import signal

import lmdb
import numpy as np
import pytest

import digits.extensions.data as data_extensions
from digits.dataset.images.classification.extension import EXTENSION_ID, ImageClassificationExtension
from digits.proto import caffe_pb2
from digits.tools import create_db, parse_folder
from tests.helpers import wait_status


@pytest.fixture
def registered():
    """register(subclass) for the test only; the tools' SIGTERM handling is undone afterwards."""
    added, handler = [], signal.getsignal(signal.SIGTERM)

    def register(cls):
        added.append(cls.extension_id)
        return data_extensions.register(cls)
    yield register
    for extension_id in added:
        data_extensions.unregister(extension_id)
    signal.signal(signal.SIGTERM, handler)


class Inverted(ImageClassificationExtension):
    """Stores every image inverted, leaves out the square class, and notes the stripes."""
    extension_id = "test-inverted-classification"

    def read(self, params, sample):
        if "square" in sample[0]:
            raise data_extensions.SkipSample("squares are left out")
        image, label = super().read(params, sample)
        return 255 - image, label, (["a stripe"] if "stripe" in sample[0] else [])


def _pixels(db_dir):
    env = lmdb.open(str(db_dir), readonly=True, lock=False)
    try:
        with env.begin() as txn:
            return [(datum.label, datum.data) for datum in
                    (caffe_pb2.Datum.FromString(value) for _, value in txn.cursor())]
    finally:
        env.close()


def _create_db(job, *extra):
    return create_db.main(["--job-dir", str(job), "--split", "train", "--height", "6", "--width", "6",
                           "--encoding", "none", "--resize-mode", "fill", *extra])


def test_the_registry_lists_classification_and_the_tools_default_to_it():
    extension = data_extensions.get_extension(EXTENSION_ID)
    assert isinstance(extension, ImageClassificationExtension) and extension.label_kind == "class"
    assert EXTENSION_ID in [e.extension_id for e in data_extensions.extensions()]
    assert extension.form_class.__name__ == "ImageClassificationDatasetForm"
    assert create_db.build_parser().parse_args(["--job-dir", "x", "--split", "val"]).extension == EXTENSION_ID
    # registering the built-in class again (the registry refilled) keeps its instance
    assert data_extensions.register(ImageClassificationExtension) is extension


@pytest.mark.parametrize("workers", ["1", "2"])
def test_create_db_stores_what_the_extensions_read_gives(tmp_path, image_tree, registered, capsys, workers):
    registered(Inverted)
    plain, inverted = tmp_path / "plain", tmp_path / "inverted"
    for job in (plain, inverted):
        job.mkdir()
        assert parse_folder.main(["--job-dir", str(job), "--folder", str(image_tree), "--seed", "4",
                                  "--pct-val", "0"]) == 0
    assert _create_db(plain, "--workers", workers) == 0
    assert _create_db(inverted, "--workers", workers, "--extension", Inverted.extension_id) == 0
    assert "a stripe" in capsys.readouterr().out   # the notes go to the task log
    lines = (plain / "train.txt").read_text().splitlines()
    kept = [i for i, line in enumerate(lines) if "square" not in line]
    assert (inverted / "train.txt").read_text().splitlines() == [lines[i] for i in kept]
    ours, theirs = _pixels(inverted / "train_db"), _pixels(plain / "train_db")
    assert len(ours) == len(kept) and len(ours) < len(theirs)
    for (label, data), i in zip(ours, kept):
        assert label == theirs[i][0]
        assert (np.frombuffer(data, np.uint8) == 255 - np.frombuffer(theirs[i][1], np.uint8)).all()
    skipped = (inverted / "train_skipped.json").read_text()
    assert skipped.count("squares are left out") == 8


def test_a_read_that_breaks_the_interface_fails_naming_the_sample(tmp_path, image_tree, registered):
    class WrongLabel(ImageClassificationExtension):
        extension_id = "test-wrong-label"

        def read(self, params, sample):
            return super().read(params, sample)[0], 7

    registered(WrongLabel)
    parse_folder.main(["--job-dir", str(tmp_path), "--folder", str(image_tree), "--seed", "1"])
    with pytest.raises(ValueError, match=r"sample \(.*\.png', \d, \d+\): label 7 is not a class id below 3"):
        _create_db(tmp_path, "--workers", "1", "--extension", WrongLabel.extension_id)
    assert not os.path.exists(tmp_path / "train_db")


def test_the_parse_tools_run_the_extensions_listing_step(tmp_path, image_tree, registered):
    seen = []

    class OnlyTrain(ImageClassificationExtension):
        extension_id = "test-listing"

        def list_samples(self, params):
            seen.append(params)
            super().list_samples(dict(params, parse_args=[*params["parse_args"], "--pct-val", "0"]))

    registered(OnlyTrain)
    args = ["--folder", str(image_tree), "--seed", "2"]
    assert parse_folder.main(["--job-dir", str(tmp_path), "--extension", OnlyTrain.extension_id, *args]) == 0
    assert seen == [{"parse_tool": "parse_folder", "parse_args": args, "job_dir": str(tmp_path)}]
    assert OnlyTrain().splits({"job_dir": str(tmp_path)}) == ("train",)
    with pytest.raises(ValueError, match="no listing step 'parse_zip'"):
        OnlyTrain().list_samples({"parse_tool": "parse_zip", "parse_args": [], "job_dir": str(tmp_path)})

    class NoListing(data_extensions.DataExtension):
        extension_id, form_class = "test-no-listing", object

    registered(NoListing)
    with pytest.raises(data_extensions.DataExtensionError, match="'test-no-listing' has no listing step"):
        parse_folder.main(["--job-dir", str(tmp_path), "--extension", NoListing.extension_id, *args])


def test_the_form_plans_through_the_registered_extension(client, tmp_path, web, monkeypatch):
    class Marked(ImageClassificationExtension):
        def plan(self, form, config):
            assert os.path.isdir(config["staging_dir"])
            return dict(super().plan(form, config), marked=True)

    data_extensions.extensions()   # filled, so that the stand-in is not replaced
    monkeypatch.setitem(data_extensions._registry, EXTENSION_ID, Marked())
    reply = web.create(client, folder_train=str(web.tree(tmp_path / "imgs")), resize_width="8",
                       resize_height="8", dataset_name="marked")
    assert reply.status_code == 200, reply.data
    job = web.job(client, reply.get_json()["id"])
    assert job.extra["params"]["marked"] is True
    assert [t.tool for t in job.tasks] == ["parse_folder", "create_db", "create_db"]
    assert wait_status(job, ("Done", "Error"), timeout=120) == "Done", job.error()


def test_the_menus_list_classification_once_and_the_generic_routes_send_it_home(client):
    home = client.get("/").get_data(as_text=True)
    datasets = re.search(r'id="new-datasets-menu">(.*?)</ul>', home, re.S).group(1)
    models = re.search(r'id="new-models-menu">(.*?)</ul>', home, re.S).group(1)
    assert datasets.count('href="/datasets/images/classification/new"') == 1
    assert models.count('href="/models/images/classification/new"') == 1
    assert f"/generic/new/{EXTENSION_ID}" not in home
    response = client.get(f"/datasets/generic/new/{EXTENSION_ID}?clone=abc")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/datasets/images/classification/new?clone=abc")
    before = set(os.listdir(client.application.extensions["digits"]["config"]["jobs_dir"]))
    response = client.post(f"/datasets/generic/create/{EXTENSION_ID}.json", data={"dataset_name": "x"})
    assert response.status_code == 404
    assert "/datasets/images/classification/new" in response.get_json()["error"]["message"]
    assert set(os.listdir(client.application.extensions["digits"]["config"]["jobs_dir"])) == before
