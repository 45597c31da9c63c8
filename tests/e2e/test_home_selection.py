"""The home page's selection in a real browser: tick jobs, Group them, Delete them; a job of another user
in the selection is named in the answer and left alone."""
import pytest
import requests

from tests.helpers import session_cookie, wait_for
from tests.inference.kit import SIZE, write_class_folders

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(e2e_server):
    e2e_server.colors = write_class_folders(str(e2e_server.root / "colors"), 3, seed=1)   # tiny: quick datasets
    return e2e_server


def _dataset(server, user, name):
    session = requests.Session()
    assert session.post(f"{server.url}/login.json", data={"username": user}, timeout=30).status_code == 200
    response = session.post(f"{server.url}/datasets/images/classification.json", timeout=60, data={
        "folder_train": server.colors, "resize_channels": "3", "resize_width": str(SIZE), "resize_height": str(SIZE),
        "method": "folder", "dataset_name": name, "folder_pct_val": "34"})
    assert response.status_code == 200, response.text
    job_id = response.json()["id"]
    wait_for(lambda: requests.get(f"{server.url}/datasets/{job_id}/status", timeout=10).json()["status"] == "Done",
             timeout=120, message=f"dataset {name}")
    return job_id


def test_group_and_delete_the_selected_jobs(server, browser):
    first, second, kept = (_dataset(server, "fred", n) for n in ("first", "second", "kept"))
    bobs = _dataset(server, "bob", "bobs")
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_cookies([session_cookie(server.url, "fred")])
    p = context.new_page()
    errors = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.set_default_timeout(30000)
    p.on("dialog", lambda dialog: dialog.accept("runs 1") if dialog.type == "prompt" else dialog.accept())
    p.goto(f"{server.url}/")
    row = lambda job_id: f'#done-datasets tr[data-job-id="{job_id}"]'   # noqa: E731
    p.wait_for_selector(row(bobs))
    assert p.is_hidden("#selection-bar")
    for job_id in (first, second):
        p.check(f"{row(job_id)} .job-select")
    assert p.inner_text("#selection-count") == "2"
    p.click("#btn-group-selected")
    p.wait_for_function(f"document.querySelector('{row(first)} .job-group').textContent === 'runs 1'")
    assert p.inner_text(f"{row(second)} .job-group") == "runs 1"
    assert p.inner_text(f"{row(kept)} .job-group") == ""
    # Delete: fred's two go; bob's, selected with them, stays and the answer says why
    for job_id in (first, second, bobs):
        p.check(f"{row(job_id)} .job-select")
    p.click("#btn-delete-selected")
    p.wait_for_function("document.getElementById('selection-result').textContent.includes('only its owner (bob)')")
    assert p.is_visible("#selection-result") and bobs in p.inner_text("#selection-result")
    p.wait_for_selector(row(first), state="detached")
    p.wait_for_selector(row(second), state="detached")
    assert p.is_visible(row(bobs)) and p.is_visible(row(kept))
    # The answer ends the action: nothing stays ticked to ride, unseen on another tab, into the next one.
    assert p.is_hidden("#selection-bar") and not p.is_checked(f"{row(bobs)} .job-select")
    p.check(f"{row(kept)} .job-select")
    assert p.inner_text("#selection-count") == "1"
    p.click("#btn-clear-selection")
    assert p.is_hidden("#selection-bar")
    index = {j["id"] for j in requests.get(f"{server.url}/index.json", timeout=10).json()["datasets"]}
    assert index == {kept, bobs}
    # the dataset form's "See example": the form's size, by every resize mode, the chosen one marked
    p.goto(f"{server.url}/datasets/images/classification/new")
    p.fill("#resize_width", "48")
    p.fill("#resize_height", "24")
    p.select_option("#resize_mode", "fill")
    p.click("#btn-resize-example")
    p.wait_for_selector("#resize-example figure >> nth=3")
    assert p.eval_on_selector_all("#resize-example figure", "fs => fs.map(f => f.dataset.resizeMode)") == \
        ["squash", "crop", "fill", "half_crop"]
    assert "border-primary" in p.get_attribute('#resize-example figure[data-resize-mode="fill"]', "class")
    assert p.eval_on_selector("#resize-example img", "i => [i.naturalWidth, i.naturalHeight]") == [48, 24]
    assert not errors, errors
    context.close()
