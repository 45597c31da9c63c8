"""The flow a new user follows, in a real browser: log in, dataset, model, classify, download, delete."""
import os
import re

import pytest

pytestmark = pytest.mark.e2e


def test_new_user_flow(e2e_server, page):
    p, url = page.page, e2e_server.url
    p.set_default_timeout(60000)
    p.goto(f"{url}/")
    p.click("#login-link")
    p.fill("#username", "newbie")
    page.shot("login")
    p.click("#login-submit")
    p.wait_for_selector("#current-user")
    assert p.inner_text("#current-user") == "newbie"

    # dataset from a folder, progress updating live on its page
    p.click("#new-datasets")
    p.select_option("#resize_channels", "1")
    p.fill("#resize_width", "28")
    p.fill("#resize_height", "28")
    p.fill("#folder_train", e2e_server.images)
    p.fill("#dataset_name", "digits")
    page.shot("new-dataset")
    p.click("#create-dataset")
    p.wait_for_url(re.compile(r".*/datasets/[0-9]{8}-"))
    dataset_url = p.url
    p.wait_for_function("document.getElementById('job-status').textContent.trim() === 'Done'", timeout=120000)
    page.shot("dataset-done")

    # LeNet model; the chart grows while it trains
    p.goto(f"{url}/models/images/classification/new")
    p.select_option("#dataset", dataset_url.rsplit("/", 1)[1])
    p.select_option("#standard_networks", "lenet")
    p.fill("#train_epochs", "4")
    p.fill("#model_name", "first-lenet")
    page.shot("new-model")
    p.click("#btn-create-model")
    p.wait_for_url(re.compile(r".*/models/[0-9]{8}-"))
    p.wait_for_function("DIGITS.charts.combined.data.datasets[0].data.length > 0", timeout=120000)
    page.shot("model-training")
    p.wait_for_function("document.getElementById('job-status').textContent.trim() === 'Done'", timeout=300000)
    p.reload()
    page.shot("model-done")
    points = p.evaluate("DIGITS.charts.combined.data.datasets.map(d => d.data.length)")
    assert points[0] >= 4 and points[2] == 4, points     # train loss points; 4 val accuracy points

    # classify one image with layer visualizations (opens a new tab)
    image = os.path.join(e2e_server.images, "3", "0001.png")
    p.set_input_files("#image_file", image)
    p.check("#show_visualizations")
    with p.context.expect_page() as tab:
        p.click("#btn-classify-one")
    one = tab.value
    one.wait_for_selector("#predictions")
    page.watch(one)
    one.wait_for_selector("#visualizations")
    assert one.locator("#predictions tr").count() >= 5
    assert one.locator("#visualizations img").count() >= 4     # weights/activations of the conv layers
    page.shot_of(one, "classify-one")
    one.close()

    # classify many from a list with labels: accuracy and confusion matrix
    listing = e2e_server.root / "list.txt"
    lines = [f"{os.path.join(e2e_server.images, str(d), name)} {d}"
             for d in range(10) for name in sorted(os.listdir(os.path.join(e2e_server.images, str(d))))[:3]]
    listing.write_text("\n".join(lines) + "\n")
    p.set_input_files("#image_list_many", str(listing))
    with p.context.expect_page() as tab:
        p.click("#btn-classify-many")
    many = tab.value
    page.watch(many)
    many.wait_for_selector("#confusion-matrix")
    assert many.locator("#confusion-matrix tbody tr").count() == 10
    assert "%" in many.inner_text("#top1-accuracy")
    page.shot_of(many, "classify-many")
    many.close()

    # download the archive
    with p.expect_download() as download:
        p.click("#btn-download")
    path = download.value.path()
    assert os.path.getsize(path) > 1000

    # the web server never loaded torch: network checks, inference and exports ran in subprocesses,
    # so no import or forward pass stalled the pages of other users
    with open(f"/proc/{e2e_server.proc.pid}/maps") as maps:
        assert "libtorch" not in maps.read()

    # delete model then dataset, confirming the dialogs
    p.on("dialog", lambda d: d.accept())
    p.click("#btn-delete")
    p.wait_for_url(f"{url}/")
    p.goto(dataset_url)
    p.click("#btn-delete")
    p.wait_for_url(f"{url}/")
    page.shot("deleted")
    assert "first-lenet" not in p.content()
