"""Detection geometry (pad, resize, channels; boxes there and back) and the box label records."""
import numpy as np
import pytest

from digits.dataset.datum import parse_datum
from digits.dataset.images.detection import boxes, geometry


def _image(w, h, channels=3):
    rng = np.random.default_rng(w * h)
    return rng.integers(1, 255, size=(h, w, channels) if channels == 3 else (h, w), dtype=np.uint8)


@pytest.mark.parametrize("pad, resize", [(None, None), ([384, 1248], None), (None, [96, 128]),
                                         ([384, 1248], [192, 624]), ([500, 500], [333, 217])])
def test_boxes_go_to_the_stored_image_and_back_within_half_a_pixel(pad, resize):
    original = _image(1242, 375)
    stored, transform = geometry.prepare(original, {"pad": pad, "resize": resize, "channel_conversion": "RGB"},
                                         fit=True)
    assert stored.shape[:2] == tuple(resize or pad or (375, 1242)) and list(stored.shape[:2]) == transform["stored"]
    truth = np.array([[0, 0, 1242, 375], [100.5, 20.25, 300, 200], [1200, 300, 1241, 374.5]])
    there = geometry.to_stored(truth, transform)
    assert np.all(there[:, 2] <= stored.shape[1] + 1e-6) and np.all(there[:, 3] <= stored.shape[0] + 1e-6)
    # as a detector would answer: the stored box rounded to whole stored pixels, then mapped back
    back = geometry.to_original(np.round(there * 2) / 2, transform)
    sx, sy = transform["scale"]
    assert np.max(np.abs(back - truth)) <= 0.5 / min(sx, sy, 1) + 1e-9
    assert np.allclose(geometry.to_original(there, transform), truth)


def test_padding_adds_zeros_at_the_right_and_bottom_only():
    original = _image(20, 10)
    stored, transform = geometry.prepare(original, {"pad": [16, 32], "resize": None, "channel_conversion": "none"})
    assert stored.shape == (16, 32, 3) and np.array_equal(stored[:10, :20], original)
    assert not stored[10:].any() and not stored[:, 20:].any() and transform["scale"] == [1.0, 1.0]


def test_a_larger_image_is_refused_or_fitted_at_inference():
    spec = {"pad": [100, 200], "resize": [50, 100], "channel_conversion": "L"}
    with pytest.raises(geometry.TooLarge, match="400×100"):
        geometry.prepare(_image(400, 100), spec)
    stored, transform = geometry.prepare(_image(400, 100), spec, fit=True)   # scaled to 200×50, padded, halved
    assert stored.shape == (50, 100) and transform["original"] == [100, 400]
    assert transform["scale"] == pytest.approx([0.25, 0.25])
    assert not stored[26:].any()   # the padding below the fitted image
    assert geometry.to_original([[0, 0, 100, 25]], transform).tolist() == [[0, 0, 400, 100]]


def test_channel_conversion_and_bad_geometry():
    gray = geometry.prepare(_image(8, 6, 1), {"pad": None, "resize": None, "channel_conversion": "RGB"})[0]
    assert gray.shape == (6, 8, 3)
    assert geometry.prepare(_image(8, 6), {"pad": None, "resize": None, "channel_conversion": "L"})[0].shape == (6, 8)
    for bad in ({"pad": [0, 3]}, {"resize": [3]}, {"channel_conversion": "CMYK"}, None):
        with pytest.raises(ValueError):
            geometry.check(bad)


def test_box_records_round_trip_including_empty_ones():
    rows = np.array([[1, 0.5, 1, 10, 12.25], [0, 3, 3, 4, 4]], dtype=np.float32)
    datum = parse_datum(boxes.to_datum_bytes(rows))
    assert (datum.channels, datum.height, datum.width) == (1, 2, 5)
    assert list(datum.float_data) == rows.ravel().tolist()
    assert np.array_equal(boxes.from_datum(datum), rows)
    empty = parse_datum(boxes.to_datum_bytes(np.zeros((0, 5))))
    assert empty.height == 0 and boxes.from_datum(empty).shape == (0, 5)


def test_stats_and_histogram_edges():
    stats = boxes.BoxStats()
    stats.add(np.array([[2, 0, 0, 4, 9], [0, 0, 0, 50, 50]]))
    stats.add(np.zeros((0, 5)))
    summary = stats.summary(4, boxes.histogram_edges(6))
    assert summary["per_class"] == [1, 0, 1, 0] and stats.max_boxes == 2 and stats.objects == 1
    assert sum(summary["size_histogram"]["counts"]) == 1   # sqrt(4·9) = 6; DontCare boxes have no size here
    for largest in (0, 0.3, 6, 17.9, 640, 1e4):
        edges = boxes.histogram_edges(largest)
        assert edges[0] == 0 and edges[-1] >= largest and len(edges) - 1 <= boxes.HISTOGRAM_BINS
