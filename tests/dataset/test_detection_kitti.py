"""KITTI label files and the object detection extension's reading of them, against hand-written files: the
columns, DontCare, class maps (custom and found), and each kind of bad input reported, not fatal."""
import numpy as np
import PIL.Image
import pytest

from digits.dataset.images.detection import kitti
from digits.dataset.images.detection.classes import parse_custom
from digits.dataset.images.detection.extension import ObjectDetectionExtension
from digits.extensions.data import SkipSample

CAR = "Car 0.00 0 -1.58 10.00 5.00 30.00 20.00 1.50 1.60 3.90 1.00 1.70 20.00 -1.57"
PEDESTRIAN = "Pedestrian 0.50 2 0.20 40.00 8.00 48.00 30.00 1.80 0.60 0.80 2.00 1.70 15.00 0.10"
DONTCARE = "DontCare -1 -1 -10 0.00 0.00 8.00 8.00 -1 -1 -1 -1000 -1000 -1000 -10"


def test_columns_are_read_as_kitti_defines_them():
    objects, problems = kitti.parse(f"{CAR}\n\n{PEDESTRIAN} 0.93\n{DONTCARE}\n")
    assert problems == []
    car, pedestrian, dontcare = objects
    assert car == kitti.KittiObject("car", 0.0, 0, -1.58, (10.0, 5.0, 30.0, 20.0), 1)
    assert (pedestrian.name, pedestrian.truncated, pedestrian.occluded, pedestrian.alpha) == ("pedestrian", 0.5, 2, 0.2)
    assert pedestrian.box == (40.0, 8.0, 48.0, 30.0) and pedestrian.line == 3   # the 16th column, a score, is fine
    assert (dontcare.name, dontcare.truncated, dontcare.occluded) == ("dontcare", -1.0, -1)


def test_bad_lines_are_named():
    objects, problems = kitti.parse(f"{CAR}\nCar 0 0 0 1 2 3\nCar 0 0 0 ten 2 3 4 0 0 0 0 0 0 0\n")
    assert len(objects) == 1
    assert problems == ["line 2: 7 columns, expected 15 (or 16 with a score)",
                        "line 3: column x1 is 'ten', not a number"]


def test_format_object_reads_back():
    line = kitti.format_object("person", (1.5, 2, 10, 20.25), truncated=0.3, occluded=1)
    [obj], problems = kitti.parse(line)
    assert not problems and obj.name == "person" and obj.box == (1.5, 2.0, 10.0, 20.25) and obj.occluded == 1


def test_custom_classes_parse_like_digits():
    assert parse_custom(" dontcare, car ,\"person, walking\"") == ["dontcare", "car", "person, walking"]
    for bad in ("car,,person", "car,Car"):
        with pytest.raises(ValueError):
            parse_custom(bad)


@pytest.fixture
def folders(tmp_path):
    """train/ and val/ image and label folders of 64×48 images, with the label files each test writes."""
    def make(split, labels, images=None):
        image_dir, label_dir = tmp_path / split / "images", tmp_path / split / "labels"
        image_dir.mkdir(parents=True, exist_ok=True)
        label_dir.mkdir(parents=True, exist_ok=True)
        for stem in images if images is not None else labels:
            PIL.Image.fromarray(np.full((48, 64, 3), 90, np.uint8)).save(image_dir / f"{stem}.png")
        for stem, lines in labels.items():
            (label_dir / f"{stem}.txt").write_text("".join(line + "\n" for line in lines))
        return {"images": str(image_dir), "labels": str(label_dir)}
    return make


def _params(train, val=None, custom=None, pad=None, resize=None, min_box=0):
    params = {"geometry": {"pad": pad, "resize": resize, "channel_conversion": "RGB"}, "val_min_box_size": min_box,
              "custom_classes": parse_custom(custom) if custom else None, "train": train}
    if val:
        params["val"] = val
    return params


def _read_all(params, split="train"):
    """{file name: (rows, notes) or the SkipSample reason} for every sample of the split."""
    extension, out = ObjectDetectionExtension(), {}
    for sample in extension.samples(params, split):
        name = sample["path"].rsplit("/", 1)[-1]
        try:
            image, rows, notes = extension.read(params, sample)
            out[name] = (rows.tolist(), notes)
        except SkipSample as exc:
            out[name] = str(exc)
    return out


def test_found_classes_and_dontcare(folders):
    params = _params(folders("train", {"a": [CAR, PEDESTRIAN, DONTCARE], "b": ["car 0 0 0 1 1 5 5 0 0 0 0 0 0 0"]}))
    assert ObjectDetectionExtension().label_names(params) == ["dontcare", "car", "pedestrian"]
    read = _read_all(params)
    assert read["a.png"] == ([[1, 10, 5, 30, 20], [2, 40, 8, 48, 30], [0, 0, 0, 8, 8]], [])
    assert read["b.png"] == ([[1, 1, 1, 5, 5]], [])


def test_custom_classes_map_unknown_names_to_dontcare(folders):
    params = _params(folders("train", {"a": [CAR, PEDESTRIAN, PEDESTRIAN, DONTCARE]}), custom="DontCare,car")
    assert ObjectDetectionExtension().label_names(params) == ["DontCare", "car"]
    rows, notes = _read_all(params)["a.png"]
    assert [r[0] for r in rows] == [1, 0, 0, 0]
    assert notes == ["2 object(s) of a class not in the custom classes, made DontCare: pedestrian ×2"]


def test_bad_boxes_are_clipped_or_dropped_and_noted(folders):
    lines = [CAR, "Car 0 0 0 30 5 10 20 0 0 0 0 0 0 0", "Car 0 0 0 50 30 80 60 0 0 0 0 0 0 0",
             "Car 0 0 0 70 50 90 60 0 0 0 0 0 0 0", "Car 0 0 0 5 5 5 9 0 0 0 0 0 0 0"]
    rows, notes = _read_all(_params(folders("train", {"a": lines})))["a.png"]
    assert rows == [[1, 10, 5, 30, 20], [1, 50, 30, 64, 48]]
    assert notes == ["a.txt line 2 (car): x2 < x1 in (30, 5, 10, 20); left out",
                     "a.txt line 3 (car): box (50, 30, 80, 60) extends past the 64×48 image; "
                     "clipped to (50, 30, 64, 48)",
                     "a.txt line 4 (car): box (70, 50, 90, 60) is outside the 64×48 image; left out",
                     "a.txt line 5 (car): empty box (5, 5, 5, 9); left out"]


def test_files_that_cannot_be_used_are_left_out_with_the_reason(folders):
    train = folders("train", {"good": [CAR], "short": [CAR, "Car 0 0 0 1 2 3 4"], "orphan": [CAR]},
                    images=["good", "short", "nolabel"])
    read = _read_all(_params(train))
    assert read["good.png"] == ([[1, 10, 5, 30, 20]], [])
    assert read["short.png"].startswith("label file ") and read["short.png"].endswith(
        "short.txt: line 2: 8 columns, expected 15 (or 16 with a score); the image is left out")
    assert read["nolabel.png"] == f"no label file nolabel.txt in {train['labels']}"
    assert read["labels"] == f"1 label file(s) without an image in {train['images']}: orphan.txt"


def test_val_boxes_below_the_minimum_size_become_dontcare(folders):
    small = "Car 0 0 0 10 10 18 40 0 0 0 0 0 0 0"   # 8 wide, 30 high
    train = folders("train", {"a": [CAR, small]})
    params = _params(train, val=folders("val", {"v": [CAR, small, "Truck 0 0 0 1 1 30 30 0 0 0 0 0 0 0"]}), min_box=10)
    assert [r[0] for r in _read_all(params)["a.png"][0]] == [1, 1]   # training boxes keep their class
    rows, notes = _read_all(params, "val")["v.png"]
    assert [r[0] for r in rows] == [1, 0, 0]
    assert notes == ["1 object(s) of a class not among the training classes, made DontCare: truck"]


def test_padding_and_resize_scale_the_boxes_and_refuse_larger_images(folders):
    train = folders("train", {"a": [CAR]})
    extension = ObjectDetectionExtension()
    params = _params(train, pad=[60, 80], resize=[30, 40])
    [sample] = extension.samples(params, "train")
    image, rows, notes = extension.read(params, sample)
    assert image.shape == (30, 40, 3) and rows.tolist() == [[1, 5, 2.5, 15, 10]]
    assert image[:24, :32].mean() > 80 and image[25:, :].max() == 0 and image[:, 33:].max() == 0   # zeros padded
    params = _params(train, pad=[40, 80])
    with pytest.raises(SkipSample, match=r"the image is 64×48 \(W×H\), larger than the padding size 80×40"):
        extension.read(params, extension.samples(params, "train")[0])
