"""Preprocessing (mean, crop, scale, whitening; preprocess.json round trip) and augmentations."""
import os

import numpy as np
import pytest
import torch

from digits.dataset.mean import save_mean
from digits.model import preprocess as prep
from digits.model.augment import Augment, AugmentError
from digits.model.preprocess import Preprocess, PreprocessError


def _image(c=3, h=6, w=8, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (c, h, w), dtype=np.uint8))


def test_image_mean_center_crop_and_scale():
    image = _image()
    mean = np.random.default_rng(1).uniform(0, 255, (3, 6, 8)).astype(np.float32)
    pre = Preprocess(3, 6, 8, 5, crop_size=4, mean="image", mean_file="m", scale=0.5, mean_array=mean)
    out = pre(image)
    expected = (image.numpy().astype(np.float32) - mean)[:, 1:5, 2:6] * 0.5   # Caffe: offset (6-4)//2, (8-4)//2
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    assert pre.output_shape == (3, 4, 4)


def test_pixel_mean_and_random_crop_is_seeded():
    mean = np.stack([np.full((6, 8), v, np.float32) for v in (10, 20, 30)])
    pre = Preprocess(3, 6, 8, 5, crop_size=4, mean="pixel", mean_file="m", scale=1.0, mean_array=mean)
    image = _image()
    a = pre(image, train=True, generator=torch.Generator().manual_seed(3))
    b = pre(image, train=True, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    top, left = pre.crop_offset(True, torch.Generator().manual_seed(3))
    expected = image.numpy().astype(np.float32)[:, top:top + 4, left:left + 4] - np.array([10, 20, 30])[:, None, None]
    np.testing.assert_allclose(a.numpy(), expected)
    offsets = {pre.crop_offset(True, torch.Generator().manual_seed(s)) for s in range(50)}
    assert len(offsets) > 5 and all(0 <= t <= 2 and 0 <= l <= 4 for t, l in offsets)


def test_whitening_standardizes_each_image():
    pre = Preprocess(1, 6, 8, 2, whitening=True)
    out = pre(_image(c=1))
    assert float(out.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(out.std(unbiased=False)) == pytest.approx(1.0, abs=1e-4)
    constant = pre(torch.full((1, 6, 8), 7, dtype=torch.uint8))
    assert torch.isfinite(constant).all() and float(constant.abs().max()) == 0.0


def test_shape_and_settings_errors():
    with pytest.raises(PreprocessError, match="crop_size 9"):
        Preprocess(3, 6, 8, 2, crop_size=9)
    with pytest.raises(PreprocessError, match="needs the dataset's mean"):
        Preprocess(3, 6, 8, 2, mean="image")
    with pytest.raises(PreprocessError, match="mean image is"):
        Preprocess(3, 6, 8, 2, mean="image", mean_array=np.zeros((3, 5, 5), np.float32))
    with pytest.raises(PreprocessError, match=r"image has shape \(3, 6, 6\)"):
        Preprocess(3, 6, 8, 2)(_image(w=6))


def test_preprocess_json_round_trip(tmp_path):
    dataset, model = tmp_path / "ds", tmp_path / "model"
    dataset.mkdir()
    model.mkdir()
    mean_hwc = np.random.default_rng(2).uniform(0, 255, (6, 8, 3))
    save_mean(mean_hwc, str(dataset / "mean.binaryproto"))
    from digits.dataset.reader import load_mean
    pre = Preprocess(3, 6, 8, 4, crop_size=5, mean="image", mean_file="mean.binaryproto", scale=0.25,
                     mean_array=load_mean(str(dataset / "mean.binaryproto")))
    prep.write_model_files(pre, str(model), str(dataset))
    again = prep.load(str(model))
    assert again.to_json() == pre.to_json()
    image = _image()
    assert torch.equal(again(image), pre(image))
    # the mean went through BGR storage and came back as RGB
    np.testing.assert_allclose(again._mean_tensor.numpy(), mean_hwc.transpose(2, 0, 1), rtol=1e-6)
    assert os.path.exists(model / "mean.binaryproto")


def test_augmentations_are_seeded_and_keep_shape():
    aug = Augment({"flip": "fliplrud", "quad_rot": "rotall", "rot": 20, "scale": 0.1, "noise": 0.05,
                   "contrast": 0.3, "hsv_use": True, "hsv_h": 0.05, "hsv_s": 0.1, "hsv_v": 0.1})
    image = _image(h=8, w=8)
    a = aug(image, torch.Generator().manual_seed(5))
    b = aug(image, torch.Generator().manual_seed(5))
    c = aug(image, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == image.shape and a.dtype == torch.float32 and 0 <= float(a.min()) and float(a.max()) <= 255


def test_flip_and_quadrant_rotation_values():
    image = _image(c=1, h=4, w=4)
    flips = {tuple(Augment({"flip": "fliplr"})(image, torch.Generator().manual_seed(s)).flatten().tolist())
             for s in range(20)}
    assert flips == {tuple(image.flatten().tolist()), tuple(image.flip(-1).flatten().tolist())}
    turns = {tuple(Augment({"quad_rot": "rotall"})(image, torch.Generator().manual_seed(s)).flatten().tolist())
             for s in range(40)}
    assert turns == {tuple(torch.rot90(image, k, dims=(1, 2)).flatten().tolist()) for k in range(4)}
    # 90° turns would change a non-square image's shape: only 180° is used
    wide = _image(c=1, h=4, w=6)
    assert all(Augment({"quad_rot": "rot90"})(wide, torch.Generator().manual_seed(s)).shape == wide.shape
               for s in range(10))


def test_inactive_augmentation_is_identity_and_bad_options_fail():
    image = _image()
    assert Augment({"flip": "none", "rot": 0}).active is False
    assert Augment({})(image) is image
    with pytest.raises(AugmentError, match="augmentation.rot"):
        Augment({"rot": 500})
    with pytest.raises(AugmentError, match="augmentation.quad_rot"):
        Augment({"quad_rot": "rot45"})
