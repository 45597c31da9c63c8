"""Detection inference (docs/detection.md §3): a handmade detection model (detection_kit) answers its raw
N×D×6 rows and detections in the original image's pixels — padding, down-scaling and resizing undone —
through infer_one, infer_many and infer_db (a stored record: its own pixels), and the bounding-box view
draws them with a threshold slider."""
import numpy as np
import pytest

from tests.inference import detection_kit as kit


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    world = kit.world(tmp_path_factory)
    yield world
    world.sched.stop()


def _by_label(answer):
    return {d["label"]: d for d in answer["detections"]}


def _undone(row, scale, size):
    """A raw row's box in the original image: over the scale, clipped to the image."""
    w, h = size
    return np.clip(np.asarray(row[:4]) / scale, 0, [w, h, w, h])


@pytest.mark.parametrize("name", sorted(kit.IMAGES))
def test_boxes_come_back_in_the_original_images_pixels(world, name):
    w, h, bright, scale = kit.IMAGES[name]
    answer = kit.infer_one(world.client, world.model, world.images[name])
    assert answer["task_type"] == "detection" and answer["view"] == "image-bounding-boxes"
    rows = answer["outputs"]["output"]
    assert np.asarray(rows).shape == (4, 6) and rows[1][:4] == kit.FIXED and rows[2][4:] == [0, -1]
    found = _by_label(answer)
    assert sorted(found) == ["car", "person"]   # unused rows (class -1) are no detections
    assert found["person"]["box"] == pytest.approx(kit.expected_fixed_box(name), abs=0.5)
    assert found["person"]["score"] == pytest.approx(0.3, abs=1e-6)
    assert found["car"]["box"] == pytest.approx(_undone(rows[0], scale, (w, h)).tolist(), abs=0.5)
    # the bright rectangle itself, within a pixel of the network's input (its edges are blurred by the resize)
    assert found["car"]["box"] == pytest.approx(list(bright), abs=1.01 / scale)
    assert answer["bounding_boxes"] == {"count": 2, "per_label": {"car": 1, "person": 1}}


def test_the_threshold_leaves_out_lower_scores_and_a_bad_one_is_refused(world):
    from digits.inference.errors import InferenceError
    from digits.inference.jobs import model_spec
    from digits.inference.service import get_service
    spec, _ = model_spec(world.model)
    path = world.images["padded.png"]
    every = get_service().call("infer", model=spec, task_type="detection", images=[path])["results"][0]
    high = get_service().call("infer", model=spec, task_type="detection", images=[path], threshold=0.5)["results"][0]
    assert [d["label"] for d in every["detections"]] == ["car", "person"]
    assert [d["label"] for d in high["detections"]] == ["car"] and high["outputs"] == every["outputs"]
    with pytest.raises(InferenceError, match="threshold must be a number from 0 to 1") as caught:
        get_service().call("infer", model=spec, task_type="detection", images=[path], threshold="1.5")
    assert caught.value.status == 400


def test_infer_many_answers_each_image_and_its_page_draws_them(world):
    folder = world.root + "/images"
    response = world.client.post("/models/images/generic/infer_many.json",
                                 data={"job_id": world.model.id, "image_folder": folder})
    assert response.status_code == 200, response.data
    answer = response.get_json()
    assert sorted(answer["results"]) == sorted(world.images.values()) and not answer["errors"]
    for name, path in world.images.items():
        found = _by_label(answer["results"][path])
        assert found["person"]["box"] == pytest.approx(kit.expected_fixed_box(name), abs=0.5)
        assert np.asarray(answer["outputs"][path]["output"]).shape == (4, 6)
    page = world.client.post("/models/images/generic/infer_many", data={"job_id": world.model.id,
                                                                         "image_folder": folder})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and text.count('data-view="image-bounding-boxes"') == 2
    assert text.count('class="form-range bbox-threshold"') == 2 and "js/bbox-view.js" in text


def test_infer_db_answers_boxes_in_the_stored_images_pixels(world):
    stored = kit.picture(32, 16, (4, 2, 12, 6))            # the model's size: nothing to undo
    larger = kit.picture(64, 32, (8, 4, 24, 12))           # another database's size: resized, then undone
    db = kit.stored_db(world.root + "/records", {"a": stored, "b": larger})
    response = world.client.post("/models/images/generic/infer_db.json", data={"job_id": world.model.id, "db_path": db})
    assert response.status_code == 200, response.data
    answer = response.get_json()
    assert list(answer["outputs"]) == ["a", "b"] and not answer["errors"]
    a, b = _by_label(answer["results"]["a"]), _by_label(answer["results"]["b"])
    assert a["person"]["box"] == pytest.approx(kit.FIXED, abs=1e-6)
    assert a["car"]["box"] == pytest.approx([4, 2, 12, 6], abs=1e-6)
    assert b["person"]["box"] == pytest.approx([2 * v for v in kit.FIXED], abs=0.5)
    page = world.client.post("/models/images/generic/infer_db", data={"job_id": world.model.id, "db_path": db})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and text.count('data-view="image-bounding-boxes"') == 2
    assert 'viewBox="0 0 32 16"' in text and 'viewBox="0 0 64 32"' in text   # over each record as stored


def test_the_view_draws_each_box_with_its_class_and_score_and_a_slider(world):
    path = world.images["padded.png"]
    response = world.client.post("/models/images/generic/infer_one", data={"job_id": world.model.id,
                                                                            "image_path": path})
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-view="image-bounding-boxes"' in text
    assert 'type="range" class="form-range bbox-threshold"' in text and 'value="0.5"' in text
    assert 'viewBox="0 0 40 20"' in text and "data:image/png;base64," in text   # over the original image
    assert text.count('<g class="bbox"') == 2 and text.count('class="bbox-row"') == 2
    assert '<rect x="4.0" y="4.0" width="8.0" height="8.0"' in text      # the fixed box, in the original
    assert "person 0.30" in text and "car 0.90" in text and 'data-score="0.3' in text
    assert "js/bbox-view.js" in text
    script = world.client.get("/static/js/bbox-view.js")
    assert script.status_code == 200 and b".bbox-threshold" in script.data


def test_a_detection_view_page_renders_without_an_image_or_boxes(app):
    from digits.extensions import view as views
    view = views.get_view("image-bounding-boxes")
    assert views.default_view("detection") is view and view.applies_to("detection")
    assert not view.applies_to("regression")
    context = {"name": "x", "index": 3, "task_type": "detection", "labels": list(kit.LABELS), "input_image": None}
    with app.test_request_context():
        empty = view.fragment({"detections": []}, context)
        blank = view.fragment({"detections": [{"label": "car", "score": 0.7, "box": [1, 2, 30, 40]}]}, context)
    assert "No detections." in empty and 'id="bbox-3-threshold"' in empty
    assert 'viewBox="0 0 30 40"' in blank and "car 0.70" in blank
