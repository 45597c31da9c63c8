"""Object detection in a real browser: the detection dataset form, its page with class counts and the
explore view's boxes, a detectnet_small model from the generic model form (its detection metrics
charted), then one image detected with boxes drawn that the score slider hides and shows."""
import re

import numpy as np
import pytest
from PIL import Image

from tests.detection_data import make_image, make_kitti_dataset

pytestmark = pytest.mark.e2e


def test_detection_flow(e2e_server, page):
    p, url, root = page.page, e2e_server.url, e2e_server.root
    p.set_default_timeout(60000)
    for split, count, seed in (("train", 160, 1), ("val", 32, 2)):
        make_kitti_dataset(str(root / "kitti" / split), count, seed=seed)
    p.goto(f"{url}/")
    p.click("#login-link")
    p.fill("#username", "spotter")
    p.click("#login-submit")
    p.wait_for_selector("#current-user")

    p.goto(f"{url}/datasets/generic/new/image-object-detection")
    for split in ("train", "val"):
        for kind in ("image", "label"):
            p.fill(f"#{split}_{kind}_folder", str(root / "kitti" / split / f"{kind}s"))
    for field in ("padding_image_width", "padding_image_height"):
        p.fill(f"#{field}", "")   # the 64×64 images as they are (DIGITS' default pads to 1248×384)
    p.fill("#val_min_box_size", "0")
    p.fill("#dataset_name", "shapes")
    page.shot("new-detection-dataset")
    p.click("#create-dataset")
    p.wait_for_url(re.compile(r".*/datasets/[0-9]{8}-"))
    dataset_id = p.url.rsplit("/", 1)[1]
    p.wait_for_function("document.getElementById('job-status').textContent.trim() === 'Done'", timeout=120000)
    p.wait_for_timeout(500)   # the page reloads itself once done, to show the summary
    p.goto(f"{url}/datasets/{dataset_id}")
    body = p.inner_text("body")
    assert "car" in body and "person" in body
    page.shot("detection-dataset-done")
    p.goto(f"{url}/datasets/images/detection/explore?job_id={dataset_id}&db=train")
    assert p.locator("svg rect").count() >= 10   # boxes drawn over the first page of images
    page.shot("detection-explore")

    p.goto(f"{url}/models/images/generic/new")
    p.select_option("#dataset", dataset_id)
    p.select_option("#task_type", "detection")
    assert p.input_value("#standard_networks") == "detectnet"   # DIGITS' DetectNet first, picked with the task
    p.select_option("#standard_networks", "detectnet_small")
    p.fill("#train_epochs", "6")
    p.select_option("#use_mean", "none")
    p.fill("#batch_size", "16")
    p.select_option("#solver_type", "ADAM")
    p.fill("#learning_rate", "0.003")
    p.fill("#model_name", "spotter-net")
    page.shot("new-detection-model")
    p.click("#btn-create-model")
    p.wait_for_url(re.compile(r".*/models/[0-9]{8}-"))
    p.wait_for_function("document.getElementById('job-status').textContent.trim() === 'Done'", timeout=300000)
    p.wait_for_timeout(500)
    p.goto(p.url)
    keys = p.evaluate("DIGITS.charts.combined.data.datasets.filter(d => d.data.length).map(d => d.key)")
    for key in ("train/loss", "train/loss_coverage", "val/mAP", "val/precision", "val/recall", "val/AP_1"):
        assert key in keys, keys
    labels = p.evaluate("DIGITS.charts.combined.data.datasets.map(d => d.label)")
    assert any(label.startswith("AP car") for label in labels), labels
    page.shot("detection-model-done")

    image, _ = make_image(np.random.default_rng(7), objects=(3, 3))
    path = root / "three-objects.png"
    Image.fromarray(image).save(path)
    p.fill("#image_path", str(path))
    with p.context.expect_page() as tab:
        p.click("#btn-classify-one")
    one = tab.value
    page.watch(one)
    one.wait_for_selector(".view-bounding-boxes")
    shown = "[...document.querySelectorAll('.view-bounding-boxes .bbox')].filter(g => " \
            "getComputedStyle(g).display !== 'none').length"
    before = one.evaluate(shown)
    assert before >= 1
    page.shot_of(one, "detections")
    one.eval_on_selector(".bbox-threshold", "s => { s.value = '1'; s.dispatchEvent(new Event('input')); }")
    assert one.evaluate(shown) < before   # the slider at 1 hides every box scoring below it
    page.shot_of(one, "detections-threshold-1")
