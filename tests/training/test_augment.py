"""Each augmentation changes the image the way its name says when on, and leaves it alone when off."""
import numpy as np
import pytest
import torch

from digits.model.augment import Augment
from digits.model.preprocess import Preprocess

SEEDS = range(40)


def _image(c=3, h=9, w=9, seed=0, low=0, high=256):
    return torch.from_numpy(np.random.default_rng(seed).integers(low, high, (c, h, w), dtype=np.uint8))


def _outputs(options, image):
    aug = Augment(options)
    return [aug(image, torch.Generator().manual_seed(s)) for s in SEEDS]


def _changed(outputs, image):
    return sum(not torch.equal(out.to(torch.float32), image.to(torch.float32)) for out in outputs)


@pytest.mark.parametrize("mode,turns", [("rot90", {0, 1, 3}), ("rot180", {0, 2}), ("rotall", {0, 1, 2, 3})])
def test_quadrant_rotation_uses_exactly_its_turns(mode, turns):
    image = _image(c=1, h=4, w=4)
    by_turn = {tuple(torch.rot90(image, k, dims=(1, 2)).flatten().tolist()): k for k in range(4)}
    seen = {by_turn[tuple(out.flatten().tolist())] for out in _outputs({"quad_rot": mode}, image)}
    assert seen == turns


@pytest.mark.parametrize("option", [
    {"rot": 0}, {"scale": 0}, {"noise": 0}, {"contrast": 0},
    {"hsv_use": False, "hsv_h": 0.3, "hsv_s": 0.3, "hsv_v": 0.3}, {"hsv_use": True, "hsv_h": 0, "hsv_s": 0, "hsv_v": 0}, {"flip": "none", "quad_rot": "none"}])
def test_option_off_leaves_the_image_unchanged(option):
    image = _image()
    assert Augment(option).active is False
    assert all(torch.equal(out, image) for out in _outputs(option, image))


def test_rotation_turns_about_the_center():
    image = torch.full((1, 9, 9), 200, dtype=torch.uint8)
    outputs = _outputs({"rot": 45}, image)
    # the center stays, corners leave the picture (filled with 0) for all but the smallest angles
    assert all(int(out[0, 4, 4]) == 200 for out in outputs)
    assert sum(int(out[0, 0, 0]) < 100 for out in outputs) > len(outputs) // 2
    assert _changed(_outputs({"rot": 10}, _image()), _image()) > len(SEEDS) * 0.8


def test_scale_zooms_about_the_center():
    image = torch.full((1, 9, 9), 200, dtype=torch.uint8)
    outputs = _outputs({"scale": 0.3}, image)
    # zooming out (factor < 1) leaves an empty border, zooming in keeps the flat image flat
    border = [int(out[0, 0, 4]) for out in outputs]
    assert any(b < 100 for b in border) and any(b == 200 for b in border)
    assert all(int(out[0, 4, 4]) == 200 for out in outputs)
    assert _changed(_outputs({"scale": 0.3}, _image()), _image()) > len(SEEDS) // 2


def test_noise_has_the_requested_stddev():
    image = torch.full((3, 32, 32), 128, dtype=torch.uint8)
    for out in _outputs({"noise": 0.05}, image)[:5]:
        diff = out - image.to(torch.float32)
        assert out.dtype == torch.float32
        assert float(diff.std()) == pytest.approx(0.05 * 255, rel=0.15)
        assert abs(float(diff.mean())) < 2.0


def test_hsv_value_scales_brightness_and_hue_leaves_gray_alone():
    image = _image(low=40, high=200)
    ratios = []
    for out in _outputs({"hsv_use": True, "hsv_h": 0, "hsv_s": 0, "hsv_v": 0.2}, image):
        ratios.append(float(out.to(torch.float32).sum()) / float(image.to(torch.float32).sum()))
    assert max(ratios) > 1.05 and min(ratios) < 0.95
    hue = {"hsv_use": True, "hsv_h": 0.2, "hsv_s": 0, "hsv_v": 0}
    assert _changed(_outputs(hue, image), image) > len(SEEDS) * 0.8
    gray = image[:1].repeat(3, 1, 1)          # R = G = B: no hue to turn
    assert all(torch.equal(out, gray) for out in _outputs(hue, gray))
    saturation = {"hsv_use": True, "hsv_h": 0, "hsv_s": 0.3, "hsv_v": 0}
    assert _changed(_outputs(saturation, image), image) > len(SEEDS) * 0.8
    one_channel = _image(c=1)                 # HSV needs color
    assert all(torch.equal(out, one_channel) for out in _outputs(dict(hue, hsv_s=0.3), one_channel))


def test_contrast_stretches_around_the_mean():
    image = _image(c=1, low=60, high=200)
    stds = []
    for out in _outputs({"contrast": 0.5}, image):
        out = out.to(torch.float32)
        assert float(out.mean()) == pytest.approx(float(image.to(torch.float32).mean()), abs=1.5)
        stds.append(float(out.std()) / float(image.to(torch.float32).std()))
    assert max(stds) > 1.1 and min(stds) < 0.9


def test_whitening_gives_zero_mean_unit_std_and_only_when_on():
    image = _image(c=3, h=8, w=8, low=30, high=90)
    white = Preprocess(3, 8, 8, 2, whitening=True)(image)
    assert float(white.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(white.std(unbiased=False)) == pytest.approx(1.0, abs=1e-4)
    # per image (TensorFlow's per_image_standardization, as DIGITS): the channels keep their differences
    x = image.to(torch.float32)
    np.testing.assert_allclose(white.numpy(), ((x - x.mean()) / x.std(unbiased=False)).numpy(), rtol=1e-5, atol=1e-5)
    plain = Preprocess(3, 8, 8, 2, whitening=False)(image)
    assert torch.equal(plain, image.to(torch.float32))
