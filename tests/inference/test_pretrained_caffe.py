"""Caffe weights through the server: .caffemodel + prototxt uploads, DIGITS model archives, fine-tuning
from them, and the download archive's snapshot.caffemodel + deploy.prototxt (and .tar.bz2)."""
import io
import json
import re
import shutil
import tarfile

import numpy as np
import pytest
import torch

from digits.frameworks import build_network, caffemodel
from digits.pretrained_model import upload as pretrained_upload
from digits.proto import caffe_pb2
from tests.inference.kit import CAFFE_NET, SIZE, probe_files, train_from_pretrained
from tests.inference.test_archive import archive_names
from tests.inference.test_pretrained import _archive_bytes, upload_archive

URL = "/models/images/classification"
LABELS = b"blue\ngreen\nred\n"
# As DIGITS wrote train_val.prototxt: data layers per phase with the LMDB sources, the pixel mean as mean_value.
DIGITS_TRAIN_VAL = CAFFE_NET.replace(
    'layer { name: "data" type: "Data" top: "data" top: "label" transform_param { scale: 0.0039215684 } }',
    'layer { name: "train-data" type: "Data" top: "data" top: "label" include { phase: TRAIN } '
    'transform_param { scale: 0.0039215684 mean_value: 120 mean_value: 90 mean_value: 100 } '
    'data_param { source: "/jobs/20160101-000000-abcd/train_db" backend: LMDB batch_size: 8 } }\n'
    'layer { name: "val-data" type: "Data" top: "data" top: "label" include { phase: TEST } '
    'transform_param { scale: 0.0039215684 mean_value: 120 mean_value: 90 mean_value: 100 } '
    'data_param { source: "/jobs/20160101-000000-abcd/val_db" backend: LMDB batch_size: 8 } }') + \
    'layer { name: "accuracy" type: "Accuracy" bottom: "fc" bottom: "label" top: "accuracy" include { phase: TEST } }\n'
DEPLOY = CAFFE_NET.replace(
    'layer { name: "data" type: "Data" top: "data" top: "label" transform_param { scale: 0.0039215684 } }',
    'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 16 dim: 16 } } }').replace(
    'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }',
    'layer { name: "softmax" type: "Softmax" bottom: "fc" top: "softmax" }')


def caffe_weights(world, epoch=3, extra=False, zeros=False):
    """The Caffe model's snapshot as Caffe would have saved it: conv1 reads BGR images, so its input
    channels are the reverse of ours; written through caffe.proto, with the weightless layers too."""
    sd = torch.load(world.caffe_model.snapshot_path(epoch), weights_only=True)["model"]
    arrays = {"conv1": [sd["layers.conv1.weight"].flip(1), sd["layers.conv1.bias"]],
              "fc": [sd["layers.fc.weight"], sd["layers.fc.bias"]]}
    net = caffe_pb2.NetParameter(name="tiny")
    net.layer.add(name="data", type="Data")
    for name, blobs in arrays.items():
        layer = net.layer.add(name=name, type="Convolution" if name == "conv1" else "InnerProduct")
        for tensor in blobs:
            blob = layer.blobs.add()
            blob.shape.dim.extend(tensor.shape)
            blob.data.extend((tensor * 0 if zeros else tensor).numpy().ravel().tolist())
        if name == "conv1":
            net.layer.add(name="relu1", type="ReLU")
    if extra:   # a layer the prototxt does not have: listed, not silently dropped
        layer = net.layer.add(name="fc_extra", type="InnerProduct")
        layer.blobs.add().data.extend([1.0, 2.0])
    return net.SerializeToString()


def predictions(client, job_id, paths):
    out = []
    for path in paths:
        response = client.post(f"{URL}/classify_one.json", data={"job_id": job_id, "image_path": path})
        assert response.status_code == 200, response.data
        out.append(response.get_json()["predictions"])
    return out


def probes(world):
    return [probe_files(world, name)[i] for name in ("red", "green", "blue") for i in (0, 1)]


def upload(client, weights, network=CAFFE_NET, weights_name="snapshot_iter_300.caffemodel", **fields):
    data = {"job_name": "from-caffe", "framework": "caffe", "image_type": "3", "width": str(SIZE),
            "height": str(SIZE), "use_mean": "pixel", "weights_file": (io.BytesIO(weights), weights_name),
            "model_def_file": (io.BytesIO(network.encode()), "train_val.prototxt"),
            "labels_file": (io.BytesIO(LABELS), "labels.txt")}
    data.update(fields)
    return client.post("/pretrained_models/new.json", data=data)


@pytest.fixture(scope="module")
def uploaded(world):
    with open(world.caffe_model.path("mean.binaryproto"), "rb") as f:
        mean = f.read()
    response = upload(world.client, caffe_weights(world, extra=True), mean_file=(io.BytesIO(mean), "mean.binaryproto"))
    assert response.status_code == 200, response.data
    return world.sched.get_job(response.get_json()["id"])


def test_caffemodel_upload_classifies_like_the_model(world, client, uploaded):
    assert uploaded.status == "Done" and uploaded.framework == "caffe"
    assert predictions(client, uploaded.id, probes(world)) == predictions(client, world.caffe_model.id, probes(world))
    report = uploaded.extra["info"]["caffemodel"]
    assert report["file"] == "snapshot_iter_300.caffemodel" and report["loaded"] == ["conv1", "fc"]
    assert report["unmatched"] == [{"layer": "fc_extra", "type": "InnerProduct",
                                    "reason": "the network has no layer of that name with weights"}]
    assert report["channel_order"] == "BGR (Caffe) ↔ RGB: input channels of conv1 reversed"
    assert sorted(torch.load(uploaded.weights_path(), weights_only=True)) == [
        "layers.conv1.bias", "layers.conv1.weight", "layers.fc.bias", "layers.fc.weight"]
    assert not any(name.endswith(".caffemodel") for name in uploaded.page_context()["files"])
    info = client.get(f"/pretrained_models/{uploaded.id}.json").get_json()["info"]
    assert info["caffemodel"]["unmatched"][0]["layer"] == "fc_extra"
    page = client.get(f"/pretrained_models/{uploaded.id}").get_data(as_text=True)
    assert 'id="caffemodel-unmatched"' in page and "fc_extra" in page


def test_layers_the_caffemodel_lacks_are_shown_untrained_and_not_transferred(world, client):
    from digits.model.trainer_setup import transfer_pretrained
    net = caffe_pb2.NetParameter.FromString(caffe_weights(world))
    del net.layer[[layer.name for layer in net.layer].index("fc")]
    response = upload(client, net.SerializeToString(), use_mean="none")
    assert response.status_code == 200, response.data
    job = world.sched.get_job(response.get_json()["id"])
    report = job.extra["info"]["caffemodel"]
    assert report["missing"] == ["fc"] and report["untrained"] == ["layers.fc.bias", "layers.fc.weight"]
    assert len(predictions(client, job.id, probes(world)[:1])[0]) == 3   # it still runs, with all of weights.pt
    page = client.get(f"/pretrained_models/{job.id}").get_data(as_text=True)
    assert 'id="caffemodel-untrained"' in page and "random initial weights" in page
    assert "(of conv1)" in page and "untrained layers (fc) always train fresh" in page
    module = build_network("caffe", CAFFE_NET, (3, SIZE, SIZE), 3).module
    keys, loaded, fresh = transfer_pretrained(module, job.weights_path(), warn=lambda m: None)
    assert loaded == ["layers.conv1"] and fresh == ["layers.fc"] and keys == {"layers.conv1.weight",
                                                                             "layers.conv1.bias"}


def test_the_upload_form_subtracts_an_uploaded_mean_unless_told_not_to(client):
    """The page's default sends use_mean="" (a browser always sends the select): a chosen mean.binaryproto is used."""
    page = client.get("/pretrained_models/new").get_data(as_text=True)
    choices = re.search(r'id="use_mean">(.*?)</select>', page, re.S).group(1)
    assert choices.strip().startswith('<option value="" selected>')
    fields = {"use_mean": "", "image_type": "1", "width": "28", "height": "28"}
    assert pretrained_upload.form_preprocess(fields, 10, has_mean=True)["mean"] == "image"
    assert pretrained_upload.form_preprocess(fields, 10, has_mean=False)["mean"] == "none"


@pytest.mark.parametrize("case,message", [
    ("not-caffemodel", "weights.caffemodel is not a Caffe .caffemodel (a binary NetParameter)"),
    ("prototxt-as-weights", "weights.caffemodel is text (a network definition .prototxt?)"),
    ("nothing-matches", "none of the layers of weights.caffemodel matches the network"),
    ("torch-network", "weights.caffemodel is Caffe weights: they need a Caffe network"),
])
def test_bad_caffemodel_uploads_are_refused(world, client, case, message):
    weights = {"not-caffemodel": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
               "prototxt-as-weights": CAFFE_NET.encode(),
               "nothing-matches": caffe_weights(world).replace(b"conv1", b"convX").replace(b"\n\x02fc", b"\n\x02fd"),
               "torch-network": caffe_weights(world)}[case]
    fields = {"framework": "torch", "model_def_file": (io.BytesIO(b"def build(s, n): pass\n"), "net.py")} \
        if case == "torch-network" else {}
    before = len(world.sched.jobs)
    response = upload(client, weights, weights_name="weights.caffemodel", use_mean="none", **fields)
    assert response.status_code == 400, response.data
    assert message in response.get_json()["error"]["message"]
    assert len(world.sched.jobs) == before


def digits_archive(world, **changes):
    """A model archive laid out as DIGITS downloaded it (its info.json keys included)."""
    with open(world.caffe_model.path("mean.binaryproto"), "rb") as f:
        mean = f.read()
    files = {"snapshot_iter_100.caffemodel": caffe_weights(world, zeros=True), "deploy.prototxt": DEPLOY.encode(),
             "snapshot_iter_300.caffemodel": caffe_weights(world), "train_val.prototxt": DIGITS_TRAIN_VAL.encode(),
             "solver.prototxt": b'net: "train_val.prototxt"\nbase_lr: 0.05\n', "labels.txt": LABELS,
             "mean.binaryproto": mean, "info.json": json.dumps({
                 "job id": "20160101-000000-abcd", "name": "colors-digits", "framework": "caffe",
                 "image dimensions": [SIZE, SIZE, 3], "image resize mode": "squash", "mean file": "mean.binaryproto",
                 "snapshot file": "snapshot_iter_300.caffemodel", "deploy file": "deploy.prototxt",
                 "train_val file": "train_val.prototxt", "solver file": "solver.prototxt",
                 "labels file": "labels.txt", "digits version": "6.1.1"}).encode()}
    files.update(changes)
    return _archive_bytes({k: v for k, v in files.items() if v is not None})


def upload_digits_archive(client, data, **fields):
    return upload_archive(client, data, "20160101-000000-abcd_epoch_30.0.tar.gz", **fields)


@pytest.fixture(scope="module")
def from_digits(world):
    response = upload_digits_archive(world.client, digits_archive(world))
    assert response.status_code == 200, response.data
    return world.sched.get_job(response.get_json()["id"])


def test_digits_archive_upload_takes_the_newest_snapshot_and_its_settings(world, client, from_digits):
    job = from_digits
    assert job.name == "colors-digits" and job.framework == "caffe"   # info.json's name, not the file's
    assert (job.extra["info"]["original_job_id"], job.extra["info"]["model_name"]) == ("20160101-000000-abcd",
                                                                                      "colors-digits")
    assert "DIGITS job <code>20160101-000000-abcd</code>" in client.get(f"/pretrained_models/{job.id}").get_data(
        as_text=True)
    assert job.extra["info"]["caffemodel"]["file"] == "snapshot_iter_300.caffemodel"   # not _100 (zeros)
    preprocess = json.load(open(job.path("preprocess.json")))
    assert (preprocess["mean"], preprocess["resize_mode"], preprocess["width"]) == ("pixel", "squash", SIZE)
    assert preprocess["scale"] == pytest.approx(0.0039215684)   # train_val's data layer
    assert job.network_text() == DIGITS_TRAIN_VAL
    assert predictions(client, job.id, probes(world)) == predictions(client, world.caffe_model.id, probes(world))


def test_a_deploy_only_digits_archive_works_with_the_scale_given(world, client):
    data = digits_archive(world, **{"train_val.prototxt": None, "solver.prototxt": None})
    response = upload_digits_archive(client, data, scale="0.0039215684", use_mean="pixel", job_name="deploy-only")
    assert response.status_code == 200, response.data
    job = world.sched.get_job(response.get_json()["id"])
    assert job.name == "deploy-only"   # the name given wins over info.json's
    assert "Input" in job.network_text()
    assert predictions(client, job.id, probes(world)) == predictions(client, world.caffe_model.id, probes(world))


@pytest.mark.parametrize("case", ["traversal", "symlink"])
def test_digits_archives_with_escaping_paths_or_links_are_refused(world, client, case):
    if case == "traversal":
        data = digits_archive(world, **{"../snapshot_iter_900.caffemodel": caffe_weights(world)})
    else:
        buf = io.BytesIO()
        with tarfile.open(fileobj=io.BytesIO(digits_archive(world)), mode="r:gz") as source, \
                tarfile.open(fileobj=buf, mode="w:gz") as archive:
            for member in source.getmembers():
                archive.addfile(member, source.extractfile(member))
            link = tarfile.TarInfo("snapshot_iter_900.caffemodel")
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
            archive.addfile(link)
        data = buf.getvalue()
    before = len(world.sched.jobs)
    response = upload_digits_archive(client, data)
    assert response.status_code == 400, response.data
    assert ("outside the archive" if case == "traversal" else "link") in response.get_json()["error"]["message"]
    assert len(world.sched.jobs) == before


def test_fine_tune_from_the_caffe_pretrained_model(world, client, from_digits):
    results = train_from_pretrained(world, from_digits.id, "tuned-from-caffe", use_mean="pixel").train_task.results
    assert sorted(results["pretrained_loaded_layers"]) == ["layers.conv1", "layers.fc"]
    assert results["val_accuracy"] == 100.0


def _member(data, name):
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return archive.extractfile(name).read()


def test_download_has_a_caffemodel_and_deploy_prototxt_that_reproduce_the_outputs(world, client):
    response = client.get(f"/models/{world.caffe_model.id}/download.tar.bz2")
    assert response.status_code == 200 and response.mimetype == "application/x-bzip2"
    data = response.data
    assert data[:3] == b"BZh"
    names = archive_names(data, ".tar.bz2")
    assert {"snapshot.caffemodel", "deploy.prototxt", "weights.pt", "network.prototxt"} <= set(names)
    info = json.loads(_member(data, "info.json"))
    assert info["files"]["caffemodel"] == "snapshot.caffemodel" and info["files"]["deploy"] == "deploy.prototxt"
    assert info["exports"]["caffemodel"]["applies_scale"] is False
    deploy = _member(data, "deploy.prototxt").decode()
    assert "Input" in deploy and "SoftmaxWithLoss" not in deploy and "Softmax" in deploy
    weights = torch.load(io.BytesIO(_member(data, "weights.pt")), weights_only=True)
    original = build_network("caffe", CAFFE_NET, (3, SIZE, SIZE), 3).module.eval()
    original.load_state_dict(weights)
    rebuilt = build_network("caffe", deploy, (3, SIZE, SIZE), None).module.eval()
    report = caffemodel.load(rebuilt, _member(data, "snapshot.caffemodel"))
    assert report["loaded"] == ["conv1", "fc"] and not report["unmatched"] and not report["missing"]
    x = torch.rand(4, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert (rebuilt(x) - original(x)).abs().max() < 1e-5
    stored = caffemodel.read(_member(data, "snapshot.caffemodel"))["conv1"].blobs[0]
    assert np.array_equal(stored, weights["layers.conv1.weight"].flip(1).numpy())   # BGR, as Caffe wants


def test_a_torch_model_download_has_no_caffemodel(world, client):
    response = client.get(f"/models/{world.torch_model.id}/download.tar.bz2")
    assert response.status_code == 200
    names = archive_names(response.data, ".tar.bz2")
    assert "snapshot.caffemodel" not in names and "weights.pt" in names
    assert "caffemodel" not in json.loads(_member(response.data, "info.json"))["files"]
    shutil.rmtree(world.torch_model.path("deploy"))   # as it was: test_archive counts the cached exports
