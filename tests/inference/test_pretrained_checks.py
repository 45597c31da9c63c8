"""Uploaded pretrained models that cannot work are refused with a 400 that names the user's own file and
says what is wrong — never a server path, raw unpickler text or the worker's unrelated stderr."""
import pytest

from tests.inference.kit import probe_files, unsafe_weights, upload_model_files

URL = "/models/images/classification"


def _count_pretrained(world):
    return sum(1 for j in world.sched.jobs.values() if j.category == "pretrained_models")


def _snapshot_bytes(world):
    with open(world.torch_model.snapshot_path(3), "rb") as f:
        return f.read()


def _refused(world, response):
    assert response.status_code == 400, response.data
    message = response.get_json()["error"]["message"]
    assert "/tmp" not in message and world.root not in message and "digits-inference" not in message
    return message


def test_network_code_that_ends_the_worker_is_a_400(world, client):
    before = _count_pretrained(world)
    response = upload_model_files(client, _snapshot_bytes(world), network=b"import os\nos._exit(3)\n")
    message = _refused(world, response)
    assert message == "the model cannot be used: the network's code ended the process (exit code 3)"
    assert _count_pretrained(world) == before
    # the worker is back for the next request
    classify = client.post(f"{URL}/classify_one.json", data={"job_id": world.torch_model.id,
                                                             "image_path": probe_files(world, "red")[0]})
    assert classify.status_code == 200, classify.data


@pytest.mark.parametrize("weights, reason", [
    (unsafe_weights(), "it stores a argparse.Namespace object"),
    (b".", "the file is damaged or was not written by torch.save"),   # torch says "pop from empty list"
], ids=["pickled-object", "not-torch"])
def test_weights_that_fail_weights_only_are_named_as_uploaded(world, client, weights, reason):
    before = _count_pretrained(world)
    response = upload_model_files(client, weights, names=("my-weights.pt", "network.py", "labels.txt"))
    message = _refused(world, response)
    assert message.startswith("the model cannot be used: my-weights.pt is not a PyTorch state dict that can be "
                              "loaded safely (weights_only): " + reason), message
    assert "pop from" not in message and "WeightsUnpickler" not in message
    assert _count_pretrained(world) == before


def test_labels_problems_name_the_uploaded_file(world, client):
    response = upload_model_files(client, _snapshot_bytes(world), labels=b"\xff\xfe bad",
                                  names=("w.pt", "net.py", "my labels.txt"))
    assert 'labels file "my labels.txt" is not UTF-8 text' in _refused(world, response)


@pytest.fixture(scope="module")
def uploaded(world):
    response = upload_model_files(world.client, _snapshot_bytes(world), job_name="no-epochs")
    assert response.status_code == 200, response.data
    return world.sched.get_job(response.get_json()["id"])


def test_snapshot_epoch_of_a_pretrained_model(world, client, uploaded):
    image = probe_files(world, "blue")[0]
    fields = {"job_id": uploaded.id, "image_path": image}
    plain = client.post(f"{URL}/classify_one.json", data=fields)
    assert plain.status_code == 200 and plain.get_json()["snapshot_epoch"] is None
    response = client.post(f"{URL}/classify_one.json", data=dict(fields, snapshot_epoch="2"))
    assert response.status_code == 400
    assert "has no snapshot epochs" in response.get_json()["error"]["message"]
    made = client.post(f"/models/{world.torch_model.id}/to_pretrained.json", data={"snapshot_epoch": "2"})
    job_id = made.get_json()["id"]
    same = client.post(f"{URL}/classify_one.json", data={"job_id": job_id, "image_path": image, "snapshot_epoch": "2"})
    assert same.status_code == 200, same.data   # the epoch it was made from
    other = client.post(f"{URL}/classify_one.json", data={"job_id": job_id, "image_path": image, "snapshot_epoch": "3"})
    assert other.status_code == 400 and "made from epoch 2" in other.get_json()["error"]["message"]
    assert client.delete(f"/pretrained_models/{job_id}").status_code == 200
