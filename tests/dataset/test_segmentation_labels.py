"""Segmentation label images → class ids, DIGITS' way, against hand-made images: palette index = class id,
gray level = class id, RGB colour → the colormap file's line; and each bad label named. The class labels
and colormap files, line i = class i−1, with their bad lines."""
import numpy as np
import PIL.Image
import pytest

from digits.dataset.images.segmentation import class_files
from digits.dataset.images.segmentation.labels import LabelError, Scheme, open_label, palette_rows
from digits.utils.image import LoadImageError

COLOURS = [[0, 0, 0], [200, 0, 0], [0, 200, 0]]
IDS = np.array([[0, 1, 2, 255], [2, 2, 1, 0]], dtype=np.uint8)


def _palette_image(ids, rows):
    image = PIL.Image.fromarray(np.asarray(ids, dtype=np.uint8), "P")
    image.putpalette([v for row in rows for v in row])
    return image


def _full(rows):
    return rows + [[9, 9, 9]] * (256 - len(rows))


def _saved(tmp_path, image, name="label.png"):
    image.save(tmp_path / name)
    return open_label(str(tmp_path / name))


def test_palette_index_is_the_class_id(tmp_path):
    image = _saved(tmp_path, _palette_image(IDS, _full(COLOURS)))
    reference = palette_rows(image)
    assert image.mode == "P" and reference[:3] == COLOURS
    assert np.array_equal(Scheme("label", reference).class_ids(image), IDS)
    assert np.array_equal(Scheme("label", reference, num_classes=3).class_ids(image), IDS)
    assert Scheme("label", reference).colormap(3) == COLOURS


def test_palette_indices_that_are_no_class_are_named(tmp_path):
    reference = _full(COLOURS)
    with pytest.raises(LabelError, match=r"palette index 7 \(2 px\) is not a class: the classes are 0–2, and 255"):
        Scheme("label", reference, num_classes=3).class_ids(_palette_image([[0, 7], [7, 1]], reference))
    short = _saved(tmp_path, _palette_image([[0, 1], [9, 4]], COLOURS + [[5, 5, 5], [6, 6, 6]]), "short.png")
    with pytest.raises(LabelError, match=r"palette index 9 \(1 px\) is not in its palette \(5 colours\)"):
        Scheme("label", reference).class_ids(short)


def test_every_label_must_give_the_classes_it_uses_the_first_ones_colours():
    reference = _full(COLOURS)
    other = _full([[0, 0, 0], [200, 0, 0], [1, 2, 3]])
    assert Scheme("label", reference).class_ids(_palette_image([[0, 1]], other)).tolist() == [[0, 1]]   # 2 unused
    with pytest.raises(LabelError, match=r"palette index 2 is \(1, 2, 3\) here but \(0, 200, 0\) in the first"):
        Scheme("label", reference).class_ids(_palette_image([[0, 2]], other))


def test_grayscale_level_is_the_class_id():
    scheme = Scheme("label", None, num_classes=3)
    assert np.array_equal(scheme.class_ids(PIL.Image.fromarray(IDS, "L")), IDS)
    binary = PIL.Image.fromarray(np.array([[0, 1], [1, 0]], dtype=bool))   # 1-bit masks: 0 and 1
    assert binary.mode == "1" and scheme.class_ids(binary).tolist() == [[0, 1], [1, 0]]
    assert scheme.colormap(3) == [[0, 0, 0], [128, 0, 0], [0, 128, 0]]   # PASCAL VOC colours: gray levels would be black
    with pytest.raises(LabelError, match=r"gray level 3 \(1 px\), 200 \(1 px\) are not a class"):
        scheme.class_ids(PIL.Image.fromarray(np.array([[0, 3, 200, 255]], dtype=np.uint8), "L"))


def test_label_images_of_the_wrong_kind_are_named():
    palette, gray = Scheme("label", _full(COLOURS)), Scheme("label", None)
    with pytest.raises(LabelError, match="a grayscale label image, but the label images are palette images"):
        palette.class_ids(PIL.Image.fromarray(IDS, "L"))
    with pytest.raises(LabelError, match="a palette label image, but the label images are grayscale"):
        gray.class_ids(_palette_image(IDS, COLOURS))
    with pytest.raises(LabelError, match="a RGB image: .* palette or grayscale .* colormap text file method"):
        gray.class_ids(PIL.Image.new("RGB", (2, 2)))
    with pytest.raises(LabelError, match="a I;16 image: with a colormap file the label images must be RGB"):
        Scheme("textfile", colormap=COLOURS).class_ids(PIL.Image.new("I;16", (2, 2)))


def test_rgb_colours_map_to_their_colormap_line():
    scheme = Scheme("textfile", colormap=COLOURS, num_classes=3)
    truth = np.array([[0, 1, 2], [2, 2, 1]], dtype=np.uint8)
    rgb = np.asarray(COLOURS, dtype=np.uint8)[truth]
    assert np.array_equal(scheme.class_ids(PIL.Image.fromarray(rgb)), truth)
    rgba = PIL.Image.fromarray(np.concatenate([rgb, np.full(truth.shape + (1,), 255, np.uint8)], axis=2))
    assert np.array_equal(scheme.class_ids(rgba), truth)
    assert scheme.colormap(3) == COLOURS
    rgb[0, 0] = rgb[1, 1] = (10, 20, 30)
    rgb[0, 1] = (255, 255, 255)
    with pytest.raises(LabelError, match=r"2 colour\(s\) not in the colormap file: \(10, 20, 30\) \(2 px\), "
                                         r"\(255, 255, 255\) \(1 px\)"):
        scheme.class_ids(PIL.Image.fromarray(rgb))


def test_unreadable_label_images_are_named(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("not an image")
    for name in ("empty.png", "text.png", "missing.png"):
        with pytest.raises(LoadImageError, match=f"cannot read label image .*{name}"):
            open_label(str(tmp_path / name))


def test_colormap_files_are_three_integers_a_line(tmp_path):
    (tmp_path / "colormap.txt").write_bytes("\ufeff0 0 0\r\n200 0 0\n  0\t200 0 \n\n\n".encode())
    assert class_files.read_colormap(str(tmp_path / "colormap.txt")) == COLOURS
    for text, message in (("0 0 0\n1 2\n", "line 2: '1 2' is not three integers 0–255 (R G B)"),
                          ("1 2 3 4\n", "line 1: '1 2 3 4' is not three"),
                          ("a b c\n", "line 1: 'a b c' is not three"),
                          ("256 0 0\n", "line 1: '256 0 0' is not three"),
                          ("0 -1 0\n", "line 1: '0 -1 0' is not three"),
                          ("1.5 0 0\n", "line 1: '1.5 0 0' is not three"),
                          ("1_0 +1 0\n", "line 1: '1_0 +1 0' is not three"),
                          ("0 0 0\n\n1 1 1\n", "line 2 is empty"),
                          ("0 0 0\n5 5 5\n0 0 0\n", "line 3: colour 0 0 0 is already class 0's (line 1)"),
                          ("\n\n", "the file is empty"),
                          ("1 1 1\n" * 256, "256 lines: at most 255 classes")):
        with pytest.raises(class_files.ClassFileError) as caught:
            class_files.parse_colormap(text)
        assert message in str(caught.value), text


def test_class_label_files_name_class_i_minus_1_on_line_i(tmp_path):
    path = tmp_path / "classes.txt"
    path.write_text("background\n aeroplane \nbicycle\n\n")
    assert class_files.read_names(str(path)) == ["background", "aeroplane", "bicycle"]
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(class_files.ClassFileError, match="not a text file"):
        class_files.read_names(str(path))
    with pytest.raises(class_files.ClassFileError, match="line 2 is empty"):
        class_files.parse_names("background\n \ncar\n")
    with pytest.raises(class_files.ClassFileError, match="cannot read it"):
        class_files.read_colormap(str(tmp_path / "missing.txt"))
