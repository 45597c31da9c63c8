"""The segmentation data extension against hand-made folders: images paired with labels by name, each bad
pair left out with the reason, the classes found or named, resize (image bilinear, label nearest),
channel conversion, and the seeded validation split."""
import numpy as np
import PIL.Image
import pytest

from digits.dataset.images.segmentation import sources
from digits.dataset.images.segmentation.extension import SegmentationExtension
from digits.extensions.data import SkipSample
from tests.segmentation_data import COLORMAP, make_segmentation_dataset, palette

EXTENSION = SegmentationExtension()


def _params(features, labels, **overrides):
    params = {"train": {"features": str(features), "labels": str(labels)}, "val": None, "folder_pct_val": 0,
              "seed": 0, "channel_conversion": "none", "resize": None, "colormap_method": "label",
              "class_names": None, "colormap": None, "palette": [palette()[i:i + 3] for i in range(0, 768, 3)]}
    return {**params, **overrides}


def _label(path, ids):
    image = PIL.Image.fromarray(np.asarray(ids, dtype=np.uint8), "P")
    image.putpalette(palette())
    image.save(path)


def _feature(path, size=(8, 6), mode="RGB", value=90):
    PIL.Image.new(mode, size, value if mode == "L" else (value, value, value)).save(path)


@pytest.fixture
def folders(tmp_path):
    features, labels = tmp_path / "features", tmp_path / "labels"
    (features / "sub").mkdir(parents=True)
    labels.mkdir()
    ids = np.zeros((6, 8), dtype=np.uint8)
    ids[1:4, 2:5], ids[0, 0] = 2, 255
    for name in ("a", "b", "c"):
        _feature(features / f"{name}.png")
        _label(labels / f"{name}.png", ids)
    _feature(features / "sub" / "d.jpg")   # subfolders are searched; extensions may differ
    _label(labels / "d.png", ids)
    return features, labels, ids


def _read_all(params, split="train"):
    read, skipped = {}, {}
    for sample in EXTENSION.samples(params, split):
        name = sample["path"].rsplit("/", 1)[-1]
        try:
            read[name] = EXTENSION.read(params, sample)
        except SkipSample as exc:
            skipped[name] = str(exc)
    return read, skipped


def test_pairs_are_read_and_the_classes_found(folders):
    features, labels, ids = folders
    params = _params(features, labels)
    read, skipped = _read_all(params)
    assert sorted(read) == ["a.png", "b.png", "c.png", "d.jpg"] and not skipped
    image, mask = read["a.png"]
    assert image.shape == (6, 8, 3) and image.dtype == np.uint8 and np.array_equal(mask, ids)
    assert EXTENSION.label_names(params) == ["class0", "class1", "class2"]   # up to the largest id found
    assert EXTENSION.info(params) == {"colormap": [list(c) for c in COLORMAP], "resize": None,
                                      "channel_conversion": "none"}
    assert EXTENSION.splits(params) == ("train",)
    named = _params(features, labels, class_names=["bg", "car", "road", "sky"])
    assert EXTENSION.label_names(named) == ["bg", "car", "road", "sky"]
    assert EXTENSION.info(named)["colormap"] == [list(c) for c in COLORMAP] + [[0, 0, 0]]


def test_bad_pairs_are_left_out_with_the_reason(folders):
    features, labels, ids = folders
    _feature(features / "nolabel.png")
    _label(labels / "orphan.png", ids)
    _feature(features / "twice.png")
    _label(labels / "twice.png", ids)
    _label(labels / "twice.bmp", ids)
    _label(labels / "small.png", ids[:4])
    _feature(features / "small.png")
    _label(labels / "big.png", np.zeros((12, 16)))
    _feature(features / "big.png", size=(16, 12))
    seven = ids.copy()
    seven[5, 7] = 7
    _label(labels / "seven.png", seven)
    _feature(features / "seven.png")
    _feature(features / "gray.png", mode="L")
    _label(labels / "gray.png", ids)
    (features / "broken.png").write_bytes(b"\x89PNG not really")
    _label(labels / "broken.png", ids)
    params = _params(features, labels, class_names=["bg", "car", "road"])
    read, skipped = _read_all(params)
    assert sorted(read) == ["a.png", "b.png", "c.png", "d.jpg"]
    assert skipped["nolabel.png"] == f"no label image named nolabel.* in {labels}"
    assert skipped["twice.png"].startswith("2 label images are named twice: ")
    assert skipped["small.png"].endswith("small.png is 8×4 (W×H), the image 8×6 (W×H): a label must be of its "
                                         "image's size")
    assert skipped["big.png"] == ("the image is 16×12 (W×H), but most of the dataset's images are 8×6 (W×H): "
                                  "give a resize size to take images of any size")
    assert skipped["seven.png"].endswith("seven.png: palette index 7 (1 px) is not a class: the classes are 0–2, "
                                         "and 255 means ignore")
    assert skipped["gray.png"].startswith("a grayscale image, but most of the dataset's images are colour")
    assert "broken.png" in skipped["broken.png"]
    assert skipped["labels"] == f"1 label image(s) without a feature image in {features}: {labels}/orphan.png"
    converted = _params(features, labels, class_names=["bg", "car", "road"], channel_conversion="L")
    gray_image, _ = EXTENSION.read(converted, next(s for s in EXTENSION.samples(converted, "train")
                                                   if s["path"].endswith("gray.png")))
    assert gray_image.shape == (6, 8)


def test_resize_is_bilinear_for_images_and_nearest_for_labels(tmp_path):
    features, labels = tmp_path / "f", tmp_path / "l"
    features.mkdir()
    labels.mkdir()
    gradient = np.tile(np.arange(0, 200, 50, dtype=np.uint8), (4, 1))
    PIL.Image.fromarray(gradient).save(features / "x.png")
    ids = np.array([[0, 1, 2, 255]] * 4, dtype=np.uint8)
    _label(labels / "x.png", ids)
    params = _params(features, labels, resize=[8, 8])
    [sample] = EXTENSION.samples(params, "train")
    image, mask = EXTENSION.read(params, sample)
    assert image.shape == (8, 8) and mask.shape == (8, 8) and mask.dtype == np.uint8
    assert np.array_equal(mask, np.repeat(np.repeat(ids, 2, axis=0), 2, axis=1))   # no blended class ids
    assert len(np.unique(image)) > 4   # interpolated
    another = _params(features, labels, resize=[3, 5])
    _feature(features / "odd.png", size=(7, 5), mode="L")
    _label(labels / "odd.png", np.zeros((5, 7)))
    read, skipped = _read_all(another)
    assert not skipped and {m.shape for _, m in read.values()} == {(3, 5)}


def test_the_validation_split_is_seeded_and_reproducible(tmp_path):
    data = make_segmentation_dataset(str(tmp_path / "data"), 20, size=(16, 16), seed=1)
    params = _params(data.features, data.labels, folder_pct_val=25)
    assert EXTENSION.splits(params) == ("train", "val")
    train, val = ([s["path"] for s in EXTENSION.samples(params, split)] for split in ("train", "val"))
    assert len(val) == 5 and len(train) == 15 and not set(train) & set(val)
    assert all(s["split"] == "val" for s in EXTENSION.samples(params, "val"))
    sources._split.cache_clear()
    assert [s["path"] for s in EXTENSION.samples(params, "val")] == val   # the same on another run
    reseeded = _params(data.features, data.labels, folder_pct_val=25, seed=7)
    assert [s["path"] for s in EXTENSION.samples(reseeded, "val")] != val
    assert sources.validation_count(9, 10) == 0 and sources.validation_count(20, 10) == 2   # DIGITS' floor


def test_separate_validation_folders_are_their_own_split(folders, tmp_path):
    features, labels, _ = folders
    val = make_segmentation_dataset(str(tmp_path / "val"), 3, size=(8, 6), seed=2)
    params = _params(features, labels, val={"features": val.features, "labels": val.labels})
    assert EXTENSION.splits(params) == ("train", "val")
    assert len(EXTENSION.samples(params, "train")) == 4
    read, skipped = _read_all(params, "val")
    assert len(read) == 3 and not skipped
    assert all(np.array_equal(mask, val.masks[name[:-4]]) for name, (_, mask) in read.items())


def test_binary_grayscale_masks_make_two_classes(tmp_path):
    features, labels = tmp_path / "f", tmp_path / "l"
    features.mkdir()
    labels.mkdir()
    ids = np.zeros((6, 8), dtype=np.uint8)
    ids[2:5, 3:6] = 1
    for name in ("a", "b"):
        _feature(features / f"{name}.png", mode="L")
        PIL.Image.fromarray(ids, "L").save(labels / f"{name}.png")
    PIL.Image.fromarray(ids.astype(bool)).save(labels / "c.png")   # a 1-bit mask reads the same
    _feature(features / "c.png", mode="L")
    params = _params(features, labels, palette=None)
    read, skipped = _read_all(params)
    assert not skipped and all(np.array_equal(mask, ids) and image.shape == (6, 8) for image, mask in read.values())
    assert EXTENSION.label_names(params) == ["class0", "class1"]
    assert EXTENSION.info(params)["colormap"] == [[0, 0, 0], [128, 0, 0]]   # drawn in PASCAL VOC colours, not black on black
