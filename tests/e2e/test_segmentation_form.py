"""The generic model form in a real browser: a task type shows its own standard networks (segmentation:
fcn_alexnet in Caffe, the others in PyTorch — picking one picks its framework) and segmentation's class
weights field only for segmentation."""
import pytest

pytestmark = pytest.mark.e2e

VISIBLE = "Array.from(document.querySelectorAll('#standard_networks option')).filter(o => !o.hidden).map(o => o.value)"


def test_the_form_follows_the_task_type(e2e_server, page):
    p, url = page.page, e2e_server.url
    p.goto(f"{url}/")
    p.click("#login-link")
    p.fill("#username", "painter")
    p.click("#login-submit")
    p.wait_for_selector("#current-user")
    p.goto(f"{url}/models/images/generic/new")
    assert not p.is_visible("#class_weights")
    p.select_option("#task_type", "segmentation")
    assert p.evaluate(VISIBLE) == ["fcn_alexnet", "unet_small", "fcn_resnet", "deeplabv3_mobilenet", "lraspp_mobilenet"]
    assert p.input_value("#method") == "standard" and p.input_value("#standard_networks") == "fcn_alexnet"
    assert p.input_value("#framework") == "caffe" and p.is_visible("#class_weights")
    p.select_option("#standard_networks", "unet_small")
    assert p.input_value("#framework") == "torch"
    page.shot("segmentation-model-form")
    p.select_option("#task_type", "detection")
    assert p.evaluate(VISIBLE) == ["detectnet", "detectnet_small", "fasterrcnn_mobilenet"]
    assert p.input_value("#standard_networks") == "detectnet" and not p.is_visible("#class_weights")
