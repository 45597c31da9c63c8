"""Segmentation inference (docs/segmentation.md §3): a handmade segmentation model (segmentation_kit) answers
each image's mask of class ids at the image's own size with the dataset's classes and colormap, its raw
score maps only when asked, through infer_one, infer_many and infer_db (with each record's IoU against its
label from the dataset's labels LMDB), and the segmentation view paints the mask over the image."""
import numpy as np
import pytest

from tests.inference import segmentation_kit as kit
from tests.inference.segmentation_kit import answered, world  # noqa: F401  (the module's fixture)


def _inner(mask, box, margin):
    x1, y1, x2, y2 = box
    return np.asarray(mask)[y1 + margin:y2 - margin, x1 + margin:x2 - margin]


@pytest.mark.parametrize("name", sorted(kit.IMAGES))
def test_the_mask_comes_back_at_the_input_images_size_with_the_datasets_classes(world, name):
    w, h, red, green = kit.IMAGES[name]
    answer = answered(world.client, "infer_one", world.model, image_path=world.images[name])
    assert answer["task_type"] == "segmentation" and answer["view"] == "image-segmentation"
    segmentation = answer["segmentation"]
    assert segmentation["classes"] == list(kit.LABELS) and segmentation["colormap"] == kit.COLORMAP
    mask = np.asarray(segmentation["mask"])
    assert mask.shape == (h, w)
    if (w, h) == (kit.WIDTH, kit.HEIGHT):   # nothing resized: the rectangles exactly
        assert (mask == kit.truth(w, h, red, green)).all()
    else:   # squashed to the network's size and back: the rectangles but for their blurred edges
        assert (_inner(mask, red, 2) == 1).all() and (_inner(mask, green, 2) == 2).all()
        assert (mask[kit.truth(w, h, red, green) == 0] == 0).mean() > 0.95
    assert answer["outputs"] == {}   # the score maps only when asked
    assert np.array_equal(kit.decoded(answer["mask_png"]), kit.painted(mask))
    assert answer["pixels_per_class"] == np.bincount(mask.ravel(), minlength=3).tolist()


def test_raw_outputs_are_the_score_maps_only_when_asked(world):
    from digits.inference.jobs import model_spec
    from digits.inference.service import get_service
    spec, _ = model_spec(world.model)
    path = world.images["larger.png"]
    def infer(**fields):
        return get_service().call("infer", model=spec, task_type="segmentation", images=[path], **fields)["results"][0]
    plain, raw = infer(), infer(raw_outputs="1")
    assert plain["outputs"] == {} and raw["segmentation"] == plain["segmentation"]
    scores = np.asarray(raw["outputs"]["output"])
    assert scores.shape == (3, kit.HEIGHT, kit.WIDTH)   # K·H·W at the network's size
    assert scores[0].min() == pytest.approx(0.5) and scores[0].max() == pytest.approx(0.5)


def test_infer_many_answers_each_image_and_its_page_paints_them(world):
    answer = answered(world.client, "infer_many", world.model, image_folder=world.folder)
    assert sorted(answer["results"]) == sorted(world.images.values()) and not answer["errors"]
    for name, path in world.images.items():
        w, h = kit.IMAGES[name][:2]
        assert np.asarray(answer["results"][path]["segmentation"]["mask"]).shape == (h, w)
        assert answer["outputs"][path] == {} and answer["results"][path]["mask_png"].startswith("data:image/png")
    text = answered(world.client, "infer_many", world.model, page=True, image_folder=world.folder)
    assert text.count('data-view="image-segmentation"') == 2
    assert text.count('class="form-range seg-opacity"') == 2 and "js/seg-view.js" in text


def test_infer_db_measures_each_record_against_its_label(world):
    answer = answered(world.client, "infer_db", world.model, db_path=world.db)
    assert list(answer["results"]) == ["a", "b"] and not answer["errors"]
    a, b = answer["results"]["a"], answer["results"]["b"]
    assert a["iou_per_class"] == pytest.approx(kit.EXPECTED_IOU)
    assert a["mIoU"] == pytest.approx(sum(kit.EXPECTED_IOU) / 3)
    assert np.asarray(b["segmentation"]["mask"]).shape == (32, 48)   # the record's own size
    assert b["iou_per_class"][0] > 90 and b["iou_per_class"][1] > 70 and b["iou_per_class"][2] > 70
    text = answered(world.client, "infer_db", world.model, page=True, db_path=world.db)
    assert text.count('class="table table-sm small seg-iou"') == 2
    assert "88.9%" in text and "mean IoU" in text


def test_an_lmdb_of_another_dataset_is_answered_without_iou(world):
    from tests.inference.detection_kit import stored_db
    w, h, red, green = kit.IMAGES["same.png"]
    db = stored_db(world.root + "/loose", {"x": kit.picture(w, h, red, green)})
    result = answered(world.client, "infer_db", world.model, db_path=db)["results"]["x"]
    assert (np.asarray(result["segmentation"]["mask"]) == kit.truth(w, h, red, green)).all()
    assert "iou_per_class" not in result and "label_error" not in result


def test_the_view_paints_the_mask_with_a_slider_and_a_legend(world):
    text = answered(world.client, "infer_one", world.model, page=True, image_path=world.images["same.png"])
    assert 'data-view="image-segmentation"' in text
    assert 'type="range" class="form-range seg-opacity"' in text and 'value="0.5"' in text
    assert 'class="seg-image"' in text and 'class="seg-mask position-absolute' in text
    assert text.count("data:image/png;base64,") >= 2   # the image and its colour mask over it
    assert text.count('class="seg-class"') == 3
    for name, colour in zip(kit.LABELS, ("#0a141e", "#fa0000", "#00fa00")):
        assert name in text and colour in text
    assert "seg-iou" not in text   # no label: no IoU
    script = world.client.get("/static/js/seg-view.js")
    assert script.status_code == 200 and b".seg-opacity" in script.data


def test_the_segmentation_view_applies_to_segmentation_and_renders_without_an_image(app):
    from digits.extensions import view as views
    view = views.get_view("image-segmentation")
    assert views.default_view("segmentation") is view and not view.applies_to("detection")
    mask = [[0, 1], [2, 1]]
    result = {"segmentation": {"classes": ["a", "b"], "mask": mask, "colormap": [[1, 2, 3]]},
              "iou_per_class": [50.0, None, 25.0], "mIoU": 37.5}
    context = {"name": "x", "index": 4, "task_type": "segmentation", "labels": [], "input_image": None}
    keys = view.json(result, context)
    assert keys["pixels_per_class"] == [1, 2, 1]
    # the classes the colormap lacks get the default palette's colours; a class with no name its id
    assert kit.decoded(keys["mask_png"]).tolist() == [[[1, 2, 3], [128, 0, 0]], [[0, 128, 0], [128, 0, 0]]]
    with app.test_request_context():
        page = view.fragment(result, context)
        empty = view.fragment({"outputs": {}}, context)
        mismatched = view.fragment(dict(result, iou_per_class=None, label_error="the label image is 3×3"), context)
    assert "Label: the label image is 3×3" in mismatched and "seg-iou" not in mismatched
    assert 'id="seg-4-opacity"' in page and "class2" in page and "—" in page and "37.5%" in page
    assert "No mask in this answer." in empty


def test_a_label_image_of_another_size_is_reported_not_measured():
    from digits.inference.detections import Prepared
    from digits.inference.masks import segment
    from digits.model.tasks import get_task_type
    scores = np.zeros((1, 3, 2, 2), dtype=np.float32)
    scores[0, 1] = 1.0   # every pixel class 1
    image = np.zeros((2, 2, 3), dtype=np.uint8)

    def answer(label):
        prepared = [Prepared(image, None, image, label)]
        return segment(get_task_type("segmentation"), scores, list(kit.LABELS), prepared, kit.COLORMAP)[0]
    fits, other = answer(np.array([[1, 1], [255, 0]], dtype=np.uint8)), answer(np.ones((3, 3), dtype=np.uint8))
    assert fits["iou_per_class"] == [0.0, pytest.approx(200 / 3), None] and fits["mIoU"] == pytest.approx(100 / 3)
    assert "iou_per_class" not in other and other["label_error"].startswith("the label image is 3×3")
    assert other["segmentation"]["mask"] == [[1, 1], [1, 1]] and other["segmentation"]["colormap"] == kit.COLORMAP
