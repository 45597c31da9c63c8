"""digits.utils.image: loading (with corrupt files), DIGITS' resize modes, channel conversion."""
import io

import numpy as np
import PIL.Image
import PIL.ImageFile
import pytest

from digits.utils.image import (LoadImageError, decode_image_bytes, encode_image, load_image,
                                resize_image, round_half_away, to_array)

def test_load_png_and_jpeg(tmp_path, ds):
    arr = np.random.default_rng(0).integers(0, 255, (10, 14, 3), dtype=np.uint8)
    image = load_image(ds.save(arr, str(tmp_path / "a.png")))
    assert image.mode == "RGB" and image.size == (14, 10)
    assert np.array_equal(np.asarray(image), arr)
    gray = load_image(ds.save(arr[:, :, 0], str(tmp_path / "g.jpg")))
    assert gray.mode == "L" and gray.size == (14, 10)


@pytest.mark.parametrize("kind,reason", [("truncated", "truncated"), ("text", "not an image"),
                                         ("empty", "empty")])
def test_load_rejects_bad_files(tmp_path, ds, kind, reason):
    path = str(tmp_path / "bad.png")
    if kind == "truncated":
        ds.truncated_png(path)
    else:
        with open(path, "w") as f:
            f.write("plain text" if kind == "text" else "")
    with pytest.raises(LoadImageError, match=reason) as info:
        load_image(path)
    assert "bad" in str(info.value)  # the message names the file


def test_truncated_jpeg_rejected_even_if_pil_told_to_allow_it(tmp_path):
    buf = io.BytesIO()
    PIL.Image.fromarray(np.random.default_rng(2).integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(
        buf, format="JPEG")
    data = buf.getvalue()[:-40]
    saved = PIL.ImageFile.LOAD_TRUNCATED_IMAGES
    PIL.ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        with pytest.raises(LoadImageError, match="truncated"):
            decode_image_bytes(data)
        assert PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored
    finally:
        PIL.ImageFile.LOAD_TRUNCATED_IMAGES = saved


def test_png_missing_end_chunk_rejected():
    buf = io.BytesIO()
    PIL.Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(buf, format="PNG")
    with pytest.raises(LoadImageError):
        decode_image_bytes(buf.getvalue()[:-12])  # pixels complete, IEND chunk gone


def test_missing_file(tmp_path):
    with pytest.raises(LoadImageError, match="not found|No such file"):
        load_image(str(tmp_path / "nope.png"))


def test_transparency_flattened_on_white():
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[:2, :, :] = (10, 20, 30, 255)  # top opaque, bottom fully transparent
    buf = io.BytesIO()
    PIL.Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    arr = np.asarray(decode_image_bytes(buf.getvalue()))
    assert arr.shape == (4, 4, 3)
    assert (arr[0, 0] == (10, 20, 30)).all() and (arr[3, 3] == 255).all()


def test_grayscale_color_conversion():
    color = np.zeros((2, 3, 3), dtype=np.uint8)
    color[..., 0] = 200  # pure red
    gray = to_array(color, channels=1)
    assert gray.shape == (2, 3) and int(gray[0, 0]) == int(200 * 0.299)
    back = to_array(gray, channels=3)
    assert back.shape == (2, 3, 3) and (back[..., 0] == back[..., 2]).all()
    pil_gray = to_array(PIL.Image.fromarray(color), channels=1)
    assert abs(int(pil_gray[0, 0]) - 60) <= 1  # PIL's L = R*299/1000 + ...
    with pytest.raises(ValueError, match="channels"):
        to_array(color, channels=2)


def _bars(h, w):
    """Image with a distinct value per column so crops/pads can be located."""
    return np.tile(np.arange(w, dtype=np.uint8) * (250 // max(w - 1, 1)), (h, 1))


@pytest.mark.parametrize("mode", ["squash", "crop", "fill", "half_crop"])
@pytest.mark.parametrize("src", [(20, 40), (40, 20), (30, 30)])
@pytest.mark.parametrize("channels", [1, 3])
def test_resize_output_size(mode, src, channels):
    arr = np.random.default_rng(0).integers(0, 255, src + (3,), dtype=np.uint8)
    out = resize_image(arr, 16, 12, channels=channels, resize_mode=mode, rng=np.random.default_rng(0))
    assert out.dtype == np.uint8
    assert out.shape == ((16, 12) if channels == 1 else (16, 12, 3))


def test_squash_stretches_whole_image():
    arr = np.zeros((10, 40), dtype=np.uint8)
    arr[:, :20] = 255  # left half white
    out = resize_image(arr, 10, 10, resize_mode="squash")
    assert out[:, :4].min() == 255 and out[:, 6:].max() == 0


def test_crop_keeps_the_centre():
    arr = np.zeros((10, 30), dtype=np.uint8)
    arr[:, 10:20] = 255  # only the centre third is white
    out = resize_image(arr, 10, 10, resize_mode="crop")
    assert out.shape == (10, 10)
    assert out[:, 1:-1].min() == 255  # the whole output comes from the white centre
    tall = resize_image(arr.T.copy(), 10, 10, resize_mode="crop")
    assert tall[1:-1, :].min() == 255


def test_round_half_away_matches_python2():
    assert [round_half_away(x) for x in (0.5, 1.5, 2.5, 2.4999, -2.5, 0.49999999999999994)] == [1, 2, 3, 2, -3, 0]


def test_crop_offset_rounds_half_up_like_digits():
    # 8×13 into 8×8: 5 columns too many; DIGITS' Python 2 round(2.5) = 3 columns cut on the left.
    arr = np.tile(np.arange(13, dtype=np.uint8) * 10, (8, 1))
    out = resize_image(arr, 8, 8, resize_mode="crop")
    assert out[0].tolist() == [30, 40, 50, 60, 70, 80, 90, 100]
    assert resize_image(arr.T.copy(), 8, 8, resize_mode="crop")[:, 0].tolist() == list(range(30, 110, 10))


def test_fill_keeps_whole_image_and_pads_with_noise():
    arr = np.full((10, 20), 128, dtype=np.uint8)
    out = resize_image(arr, 20, 20, resize_mode="fill", rng=np.random.default_rng(0))
    assert out.shape == (20, 20)
    assert (out[5:15, :] == 128).all()  # whole image scaled to 10×20, centred
    pad = np.concatenate([out[:5], out[15:]])
    assert pad.std() > 30  # random noise, not a constant border
    again = resize_image(arr, 20, 20, resize_mode="fill", rng=np.random.default_rng(0))
    assert np.array_equal(out, again)  # seeded noise is reproducible


def test_fill_odd_padding_keeps_size():
    out = resize_image(np.full((7, 20), 9, np.uint8), 10, 10, resize_mode="fill",
                       rng=np.random.default_rng(1))
    assert out.shape == (10, 10)


def test_half_crop_crops_half_and_pads_half():
    arr = _bars(10, 40)  # aspect 4:1 into a square: crop the sides, pad top/bottom
    out = resize_image(arr, 20, 20, resize_mode="half_crop", rng=np.random.default_rng(0))
    assert out.shape == (20, 20)
    # average ratio (2 + 0.5)/2 = 1.25 → 8×32, centre 20 columns kept, 6 rows of noise each side
    rows_image = [r for r in range(20) if np.array_equal(out[r], out[10])]
    assert rows_image == list(range(6, 14))
    assert out[10, 0] > 0 and out[10, -1] < 250  # the outermost columns were cropped away


def test_resize_noop_and_bad_mode():
    arr = np.zeros((5, 6, 3), dtype=np.uint8)
    assert resize_image(arr, 5, 6) is not None
    with pytest.raises(ValueError, match="resize_mode"):
        resize_image(arr, 4, 4, resize_mode="stretch")


def test_encode_roundtrip():
    arr = np.random.default_rng(3).integers(0, 255, (6, 7, 3), dtype=np.uint8)
    assert np.array_equal(np.asarray(decode_image_bytes(encode_image(arr, "png"))), arr)
    jpg = np.asarray(decode_image_bytes(encode_image(arr, "jpg")))
    assert jpg.shape == arr.shape
    with pytest.raises(ValueError, match="encoding"):
        encode_image(arr, "gif")
