"""Segmentation datasets end to end through the REST route: palette labels with bad files reported, the same
shapes as RGB labels + a colormap file giving the same class ids, form errors that store nothing, the
dataset page's pixel counts and the Explore page's painted labels."""
import base64
import io
import json
import os
import re
import shutil
from types import SimpleNamespace

import numpy as np
import PIL.Image
import pytest

from digits.dataset.datum import datum_to_array, parse_datum
from digits.utils.lmdb_io import readonly_env
from tests.helpers import login, wait_status
from tests.segmentation_data import make_segmentation_dataset, write_colormap

URL = "/datasets/generic/create/image-segmentation.json"
SIZE = (40, 32)
COUNT = 16


@pytest.fixture
def site(make_app):
    """post(**fields): the create route's response; build(**fields): (job, dataset.json) of a dataset built."""
    app = make_app()
    client, sched = login(app.test_client()), app.extensions["digits"]["scheduler"]

    def post(**fields):
        return client.post(URL, data={"dataset_name": "shapes", "channel_conversion": "RGB", "folder_pct_val": "25",
                                      **fields})

    def build(**fields):
        response = post(**fields)
        assert response.status_code == 200, response.data
        job = sched.get_job(response.get_json()["id"])
        assert wait_status(job, ("Done", "Error"), timeout=120) == "Done", job.error()
        with open(os.path.join(job.dir, "dataset.json")) as f:
            return job, json.load(f)
    return SimpleNamespace(client=client, sched=sched, post=post, build=build)


def _records(job, split):
    """{feature image bytes: stored label ids} of a split (the split is shuffled: pairs found by pixels)."""
    out = {}
    with readonly_env(os.path.join(job.dir, f"{split}_db")) as images, \
            readonly_env(os.path.join(job.dir, f"{split}_labels_db")) as labels, \
            images.begin() as image_txn, labels.begin() as label_txn:
        for key, value in image_txn.cursor():
            label = parse_datum(label_txn.get(key))
            assert label.channels == 1 and label.encoded
            out[datum_to_array(parse_datum(value)).tobytes()] = datum_to_array(label)
    return out


def _features(data):
    return {np.asarray(PIL.Image.open(os.path.join(data.features, f"{stem}.png"))).tobytes(): stem
            for stem in data.masks}


def _decoded(uri):
    return np.asarray(PIL.Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))


@pytest.fixture
def palette_data(tmp_path):
    """16 good pairs and bad files: a feature image without its label, a label of another size, a label with
    palette index 7 (not among the 3 classes of the class labels file), a label without a feature image."""
    data = make_segmentation_dataset(str(tmp_path / "palette"), COUNT, size=SIZE, seed=4)
    features, labels = data.features, data.labels
    shutil.copy(os.path.join(features, "000000.png"), os.path.join(features, "nolabel.png"))
    shutil.copy(os.path.join(features, "000000.png"), os.path.join(features, "small.png"))
    small = PIL.Image.open(os.path.join(labels, "000000.png"))
    small.crop((0, 0, 20, 20)).save(os.path.join(labels, "small.png"))
    shutil.copy(os.path.join(features, "000001.png"), os.path.join(features, "seven.png"))
    seven = PIL.Image.open(os.path.join(labels, "000001.png"))
    seven.putpixel((3, 3), 7)
    seven.save(os.path.join(labels, "seven.png"))
    shutil.copy(os.path.join(labels, "000002.png"), os.path.join(labels, "orphan.png"))
    return data


def test_palette_labels_build_a_dataset_with_a_report_and_its_facts(site, palette_data):
    c, data = site.client, palette_data
    job, info = site.build(feature_folder=data.features, label_folder=data.labels,
                       class_labels_file=data.classes_file)
    assert info["label_kind"] == "mask" and info["num_classes"] == 3 and info["image_dims"] == [32, 40, 3]
    assert info["colormap"] == data.colormap and info["resize"] is None and job.labels() == data.names
    splits = info["splits"]
    assert splits["train"]["count"] + splits["val"]["count"] == COUNT
    assert splits["val"]["count"] + splits["val"]["skipped"] == 4   # 25% of the 19 feature images, floored

    report = {e["path"].rsplit("/", 1)[-1]: e["reason"] for e in info["skipped"]}
    assert set(report) == {"nolabel.png", "small.png", "seven.png", "labels"}
    assert report["nolabel.png"].startswith("no label image named nolabel.* in ")
    assert report["small.png"].endswith("is 20×20 (W×H), the image 40×32 (W×H): a label must be of its image's "
                                        "size")
    assert report["seven.png"].endswith("palette index 7 (1 px) is not a class: the classes are 0–2, and 255 means "
                                        "ignore")
    assert report["labels"].endswith("orphan.png") and "1 label image(s) without a feature image" in report["labels"]

    stems = _features(data)
    for split in ("train", "val"):
        stored = _records(job, split)
        masks = [data.masks[stems[image]] for image in stored]
        assert all(np.array_equal(stored[image], data.masks[stems[image]]) for image in stored)
        counts = np.bincount(np.concatenate([m.ravel() for m in masks]), minlength=256)
        assert info["splits"][split]["pixels"] == {"per_class": counts[:3].tolist(), "ignored": int(counts[255])}
    assert info["pixels"] == info["splits"]["train"]["pixels"] and info["pixels"]["ignored"] > 0

    page = c.get(f"/datasets/{job.id}").get_data(as_text=True)
    assert 'id="segmentation-summary"' in page and "segmentation-dataset.js" in page and "seven.png" in page
    row = re.search(r'<tr data-class="1">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r"<td>([^<]*)</td>", row)[-3:] == ["circle", *(str(info["splits"][s]["pixels"]["per_class"][1])
                                                                       for s in ("train", "val"))]
    explore = c.get(f"/datasets/images/segmentation/explore?job_id={job.id}&db=val").get_data(as_text=True)
    assert explore.count('segmentation-sample"') == splits["val"]["count"]
    assert "segmentation-label" in explore and "circle" in explore
    reply = c.get(f"/datasets/images/segmentation/explore.json?job_id={job.id}&db=train&size=12&page=0").get_json()
    assert reply["total"] == splits["train"]["count"] and reply["labels"] == data.names
    assert reply["colormap"] == data.colormap
    first = reply["images"][0]
    mask = data.masks[stems[_decoded(first["src"]).tobytes()]]
    painted = np.where((mask == 255)[..., None], 255, np.asarray(data.colormap, dtype=np.uint8)[np.minimum(mask, 2)])
    assert np.array_equal(_decoded(first["label_src"]), painted)
    assert first["classes"] == sorted(set(np.unique(mask).tolist()) - {255})
    boxes = c.get(f"/datasets/images/detection/explore.json?job_id={job.id}")
    assert boxes.status_code == 404 and c.get(f"/datasets/images/segmentation/explore?job_id={job.id}&db=test") \
        .status_code == 404


def test_rgb_labels_and_a_colormap_file_give_the_same_class_ids(site, tmp_path):
    palette = make_segmentation_dataset(str(tmp_path / "p"), 8, size=SIZE, seed=9)
    rgb = make_segmentation_dataset(str(tmp_path / "r"), 8, size=SIZE, seed=9, mode="rgb")
    common = {"folder_pct_val": "0", "class_labels_file": palette.classes_file}
    job_p, info_p = site.build(feature_folder=palette.features, label_folder=palette.labels, **common)
    job_r, info_r = site.build(feature_folder=rgb.features, label_folder=rgb.labels, colormap_method="textfile",
                           colormap_text_file=rgb.colormap_file, **common)
    for key in ("num_classes", "colormap", "image_dims", "label_kind"):
        assert info_p[key] == info_r[key], key
    assert list(info_r["splits"]) == ["train"] and info_r["pixels"]["ignored"] == 0
    from_palette, from_rgb = _records(job_p, "train"), _records(job_r, "train")
    assert from_palette.keys() == from_rgb.keys() and len(from_rgb) == 8
    for image, ids in from_palette.items():
        labelled = ids != 255
        assert np.array_equal(ids[labelled], from_rgb[image][labelled])
    per_class = np.array(info_r["pixels"]["per_class"])
    assert per_class.sum() == 8 * SIZE[0] * SIZE[1] and np.all(per_class >= np.array(info_p["pixels"]["per_class"]))

    # an RGB colour the colormap lacks: that file is left out, the rest is built
    image = PIL.Image.open(os.path.join(rgb.labels, "000003.png")).convert("RGB")
    image.putpixel((0, 0), (1, 2, 3))
    image.save(os.path.join(rgb.labels, "000003.png"))
    _, info = site.build(feature_folder=rgb.features, label_folder=rgb.labels, colormap_method="textfile",
                     colormap_text_file=rgb.colormap_file, folder_pct_val="0")
    [entry] = info["skipped"]
    assert entry["path"].endswith("000003.png") and "1 colour(s) not in the colormap file: (1, 2, 3) (1 px)" in \
        entry["reason"]
    assert info["splits"]["train"]["count"] == 7 and job_r.labels() == rgb.names


def test_bad_fields_are_form_errors_and_store_nothing(site, tmp_path):
    data = make_segmentation_dataset(str(tmp_path / "data"), 2, size=(16, 16), seed=2)
    rgb = make_segmentation_dataset(str(tmp_path / "rgb"), 2, size=(16, 16), seed=2, mode="rgb")
    bad_colormap = str(tmp_path / "bad-colormap.txt")
    with open(bad_colormap, "w") as f:
        f.write("0 0 0\n255 0\n")
    two = write_colormap(str(tmp_path / "two.txt"), [(0, 0, 0), (200, 0, 0)])
    pair = {"feature_folder": data.features, "label_folder": data.labels}
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    textfile = {"feature_folder": rgb.features, "label_folder": rgb.labels, "colormap_method": "textfile"}
    before = set(site.sched.jobs)
    cases = [({"feature_folder": data.features}, "label_folder", "is required"),
             ({**pair, "feature_folder": "/etc"}, "feature_folder", "outside"),
             ({**pair, "label_folder": data.features}, "label_folder", "a folder of their own"),
             ({**pair, "feature_folder": str(tmp_path / "empty")}, "feature_folder", "holds no images"),
             ({**pair, "feature_folder": str(tmp_path / "data")}, "label_folder", "nor one inside or around it"),
             ({**pair, "has_val_folder": "y"}, "validation_feature_folder", "required with separate"),
             ({**pair, "folder_pct_val": "100"}, "folder_pct_val", "leaves no training images"),
             ({**pair, "folder_pct_val": "101"}, "folder_pct_val", "between 0 and 100"),
             ({**pair, "resize_image_width": "32"}, "resize_image_height", "both"),
             ({**pair, "class_labels_file": str(tmp_path / "none.txt")}, "class_labels_file", "not"),
             ({**textfile, "label_folder": rgb.labels, "colormap_method": "label"}, "label_folder",
              "is a RGB image: with colormap \"From label image\""),
             (textfile, "colormap_text_file", "a colormap file is required"),
             ({**textfile, "colormap_text_file": bad_colormap}, "colormap_text_file",
              "line 2: '255 0' is not three integers 0–255 (R G B)"),
             ({**textfile, "colormap_text_file": two, "class_labels_file": rgb.classes_file}, "class_labels_file",
              "it names 3 classes, but the colormap file gives 2 colours")]
    for fields, field, message in cases:
        response = site.post(**fields)
        assert response.status_code == 400, fields
        assert message in " ".join(response.get_json()["errors"][field]), (fields, response.get_json())
    assert set(site.sched.jobs) == before
    page = site.client.get("/datasets/generic/new/image-segmentation").get_data(as_text=True)
    assert 'name="colormap_text_file"' in page and 'name="has_val_folder"' in page and 'value="10"' in page
    assert "segmentation-form.js" in page
