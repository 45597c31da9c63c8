"""The "Test the model" card in a real browser (Debian's Chromium): classify one with visualizations,
classify many, top N, the snapshot choice, and "Make pretrained model"."""
import os
import threading

import pytest

from tests.helpers import session_cookie
from tests.inference.kit import probe_files

pytestmark = pytest.mark.e2e
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def live(world):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from werkzeug.serving import make_server
    server = make_server("127.0.0.1", 0, world.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def browser_page(live):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.add_cookies([session_cookie(live, "alice")])
        page = context.new_page()
        page.set_default_timeout(30000)
        yield context, page
        browser.close()


def _submit_in_new_tab(context, page, button):
    with context.expect_page() as opened:
        page.click(button)
    tab = opened.value
    tab.wait_for_load_state()
    return tab


def test_test_the_model_card(world, live, browser_page):
    context, page = browser_page
    job = world.caffe_model
    page.goto(f"{live}/models/{job.id}")
    page.select_option("#snapshot-select", "1")
    assert "epoch=1" in page.get_attribute("#btn-download", "href")

    page.set_input_files("#image_file", probe_files(world, "red")[0])
    page.check("#show_visualizations")
    tab = _submit_in_new_tab(context, page, "#btn-classify-one")
    assert tab.inner_text("#predictions tr:first-child td:first-child").strip() == "red"
    assert "epoch 1" in tab.inner_text("h3")
    assert tab.locator("#visualizations tbody tr").count() == 7   # data, conv1 ×2, relu1, pool1, fc ×2
    tab.close()

    page.select_option("#snapshot-select", "3")
    page.fill("#image_folder_many", world.probe_dir)
    tab = _submit_in_new_tab(context, page, "#btn-classify-many")
    assert tab.inner_text("#top1-accuracy").strip() == "100.00%"
    assert tab.locator("#confusion-matrix tbody tr").count() == 3
    tab.close()

    page.fill("#image_folder_top", world.probe_dir)
    page.fill("#top_n", "2")
    tab = _submit_in_new_tab(context, page, "#btn-top-n")
    assert tab.locator("#top-n img").count() == 6
    tab.close()

    page.click("#btn-to-pretrained")
    page.wait_for_url("**/pretrained_models/*")
    assert "(epoch 3)" in page.inner_text("#job-name")
    assert page.inner_text("#pretrained-id").strip() in world.sched.jobs
