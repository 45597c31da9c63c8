"""Pretrained models download like trained ones, and the examples reproduce the server's predictions for
every resize mode that pads or crops (crop, fill, half_crop) and with a crop_size and image mean.

The models are uploaded (no training): the colour network built for the input size, with seeded weights."""
import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from tests.inference.kit import SIZE, TORCH_NET, assert_same, run_example, server_predictions, upload_model_files


@pytest.fixture(scope="module")
def shaped_images(world, tmp_path_factory):
    """Wide, tall and odd-sized images (each resize mode treats them differently), one grayscale."""
    folder = tmp_path_factory.mktemp("shapes", numbered=True)
    rng = np.random.default_rng(11)
    paths = []
    for i, (width, height) in enumerate([(40, 12), (11, 30), (23, 17)]):
        path = folder / f"shape-{i}.png"
        Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    gray = folder / "shape-gray.png"
    Image.fromarray(rng.integers(0, 256, size=(9, 21), dtype=np.uint8), "L").save(gray)
    allowed = world.app.extensions["digits"]["config"]["allowed_roots"]
    allowed.append(str(folder))
    yield paths + [str(gray)]
    allowed.remove(str(folder))


def _weights(side):
    from digits.frameworks import build_network
    torch.manual_seed(side)
    module = build_network("torch", TORCH_NET, input_shape=(3, side, side), num_classes=3).module
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.mul_(20)   # spread the class scores: no near-ties between the top classes
    buf = io.BytesIO()
    torch.save(module.state_dict(), buf)
    return buf.getvalue()


@pytest.mark.parametrize("mode, crop", [("crop", None), ("fill", None), ("half_crop", 12)])
def test_examples_match_the_server(world, client, tmp_path, shaped_images, mode, crop):
    with open(world.torch_model.path("mean.binaryproto"), "rb") as f:
        mean = f.read()
    response = upload_model_files(client, _weights(crop or SIZE), job_name=f"{mode}-model", resize_mode=mode,
                                  crop_size=str(crop or ""), use_mean="image",
                                  mean_file=(io.BytesIO(mean), "mean.binaryproto"))
    assert response.status_code == 200, response.data
    job_id = response.get_json()["id"]
    archive = client.get(f"/pretrained_models/{job_id}/download.zip")
    assert archive.status_code == 200, archive.data
    assert archive.headers["Content-Disposition"].endswith(f"{mode}-model.zip")
    path = tmp_path / "model.zip"
    path.write_bytes(archive.data)
    with zipfile.ZipFile(path) as files:
        files.extractall(tmp_path)
    server = server_predictions(client, job_id, shaped_images)
    assert_same(server, run_example("use_archive.py", path, *shaped_images, "--backend", "torchscript"))
    assert_same(server, run_example("example.py", "--model", tmp_path / "model.onnx", "--preprocess",
                                    tmp_path / "preprocess.json", "--labels", tmp_path / "labels.txt",
                                    "--mean", tmp_path / "mean.npy", *shaped_images))
    assert client.delete(f"/pretrained_models/{job_id}").status_code == 200


def test_pretrained_download_under_models_and_bad_epochs(world, client):
    response = upload_model_files(client, _weights(SIZE), job_name="plain")
    job_id = response.get_json()["id"]
    same = client.get(f"/models/{job_id}/download.tar")
    assert same.status_code == 200 and same.headers["Content-Disposition"].endswith("plain.tar")
    refused = client.get(f"/pretrained_models/{job_id}/download", query_string={"epoch": "3"})
    assert refused.status_code == 400 and "no snapshot epochs" in refused.get_json()["error"]["message"]
    assert client.get("/pretrained_models/nope/download").status_code == 404
    assert client.delete(f"/pretrained_models/{job_id}").status_code == 200


def test_example_resize_is_the_servers():
    """The examples' numpy/PIL resize gives the server's pixels, for random sizes and every mode."""
    import sys
    from digits.utils.image import resize_image
    from tests.inference.kit import EXAMPLES
    sys.path.insert(0, EXAMPLES)
    try:
        from preprocessing import resize
    finally:
        sys.path.remove(EXAMPLES)
    rng = np.random.default_rng(3)
    for _ in range(200):
        (h, w), (height, width) = rng.integers(3, 60, 2), rng.integers(2, 40, 2)
        channels = int(rng.choice([1, 3]))
        image = Image.fromarray(rng.integers(0, 256, (h, w) + ((3,) if channels == 3 else ()), dtype=np.uint8))
        for mode in ("squash", "crop", "fill", "half_crop"):
            expected = resize_image(image, height, width, channels, mode, rng=np.random.default_rng(0))
            assert np.array_equal(resize(image, height, width, channels, mode), expected), (h, w, height, width, mode)
