"""Live pages in a real browser: a model page that joins its room late catches up (status, history,
chart points) and then grows its snapshot choice and fills its results without reloading; the home
page keeps the Models tab while jobs finish; request() names form errors field by field."""
import re

import pytest
import requests

from tests.helpers import session_cookie, wait_for

pytestmark = pytest.mark.e2e

# Holds the page's Socket.IO connection until the test sets window.__allowSocket: the page is
# rendered, then joins its room only after the events of its first minutes were sent.
DEFER_SOCKET = """(() => {
  let real = null;
  window.__allowSocket = false;
  Object.defineProperty(window, "io", {configurable: true, set(v) { real = v; }, get() {
    return real && ((url, options) => {
      const socket = real(url, Object.assign({}, options, {autoConnect: false}));
      const timer = setInterval(() => { if (window.__allowSocket) { clearInterval(timer); socket.connect(); } }, 20);
      return socket;
    });
  }});
})();"""


def _post(server, path, data):
    cookie = session_cookie(server.url, "ann")
    response = requests.post(f"{server.url}{path}", data=data, cookies={cookie["name"]: cookie["value"]}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def _status(server, category, job_id):
    return requests.get(f"{server.url}/{category}/{job_id}/status", timeout=10).json()["status"]


def test_model_page_joining_late_catches_up_then_updates_live(e2e_server, page):
    server, p = e2e_server, page.page
    p.set_default_timeout(60000)
    p.context.add_cookies([session_cookie(server.url, "ann")])
    p.add_init_script(DEFER_SOCKET)
    dataset = _post(server, "/datasets/images/classification.json", {
        "method": "folder", "folder_train": server.images, "encoding": "png", "resize_channels": "1",
        "resize_width": "28", "resize_height": "28", "dataset_name": "late-digits"})["id"]
    # created while its dataset is still being built, the model waits: the page renders "Waiting"
    model = _post(server, "/models/images/classification.json", {
        "method": "standard", "standard_networks": "lenet", "framework": "caffe", "train_epochs": "3",
        "random_seed": "1", "model_name": "late-lenet", "dataset": dataset, "best_metric": "loss",
        # the learning rate falls to 0 after the first iteration: val loss plateaus, epoch 1 stays the best
        "lr_policy": "step", "lr_step_size": "1", "lr_step_gamma": "0", "momentum": "0"})["id"]
    home = p.context.new_page()
    page.watch(home)
    home.goto(f"{server.url}/#models")
    home.evaluate("window.__loadedOnce = true")
    home.evaluate("window.__allowSocket = true")
    p.goto(f"{server.url}/models/{model}")
    p.evaluate("window.__loadedOnce = true")
    assert p.inner_text("#job-status") == "Waiting"
    assert p.is_hidden("#inference-body") and p.is_visible("#no-snapshots")
    p.evaluate("""window.__snapshotEvents = 0;
                  DIGITS.onTaskUpdate(m => { if (m.update === 'snapshot') window.__snapshotEvents++; });""")

    # the status events of the dataset finishing and the model starting are sent before the page joins
    wait_for(lambda: _status(server, "models", model) in ("Running", "Done"), timeout=300, message="training")
    p.evaluate("window.__allowSocket = true")
    p.wait_for_function("['Running', 'Done'].includes(document.getElementById('job-status').textContent.trim())")
    page.shot("caught-up")
    history = p.locator("#status-history tbody tr").all_inner_texts()
    assert any("Running" in row for row in history), history
    assert p.locator("#status-history > tr").count() == 0    # rows go in the tbody

    # three snapshots join the select one by one; results appear once Done; nothing reloads
    p.wait_for_function("document.querySelectorAll('#snapshot-select option').length === 3", timeout=300000)
    p.wait_for_function("document.getElementById('job-status').textContent.trim() === 'Done'")
    p.wait_for_function("document.getElementById('final-results').textContent.includes('Validation accuracy')")
    page.shot("done-live")
    assert p.evaluate("window.__loadedOnce") is True
    assert p.eval_on_selector_all("#snapshot-select option", "os => os.map(o => o.value)") == ["3", "2", "1"]
    # once Done, the best snapshot is the page's default, as on a fresh load: classify, Download, Download best
    assert p.input_value("#snapshot-select") == "1" and "epoch=1" in p.get_attribute("#btn-download", "href")
    assert p.inner_text("#snapshot-select option[value='1']") == "Epoch #1 (best)"
    assert p.is_visible("#btn-download-best") and "epoch=1" in p.get_attribute("#btn-download-best", "href")
    assert p.is_visible("#inference-body") and p.is_hidden("#no-snapshots") and p.is_visible("#btn-download")
    assert p.evaluate("window.__snapshotEvents") >= 1
    assert "Final metrics appear" not in p.inner_text("#final-results")
    saved = requests.get(f"{server.url}/models/{model}.json", timeout=10).json()["metrics"]
    shown = p.evaluate("Object.fromEntries(DIGITS.charts.combined.data.datasets.map(d => [d.key, d.data.length]))")
    assert shown["train/loss"] == len(saved["train/loss"]) and shown["val/accuracy"] == 3, (shown, saved.keys())

    # the home page stayed on the Models tab, moved both jobs to Completed and says nothing runs
    home.wait_for_function(f"document.querySelector('#done-models tr[data-job-id=\"{model}\"]') !== null")
    assert home.evaluate("window.__loadedOnce") is True and home.evaluate("location.hash") == "#models"
    assert home.is_visible("#pane-models") and home.is_visible("#pane-models .jobs-section .empty-state")
    assert home.locator(f'#done-models tr[data-job-id="{model}"] a', has_text="Clone").count() == 1
    home.fill("#job-filter", "no-such-job")
    assert home.is_visible("#done-models ~ .no-match") and home.is_hidden("#done-models") and "no-such-job" in home.inner_text("#pane-models")
    home.fill("#job-filter", "late-lenet")
    assert home.is_visible(f'#done-models tr[data-job-id="{model}"]')
    page.shot_of(home, "home-after")
    home.close()


def test_request_errors_name_each_field(e2e_server, page):
    p = page.page
    p.context.add_cookies([session_cookie(e2e_server.url, "ann")])
    p.goto(f"{e2e_server.url}/system")
    error = p.evaluate("""async () => {
      try { await DIGITS.request('/models/images/classification.json', {method: 'POST', body: new FormData()}); }
      catch (e) { return {message: e.message, fields: e.fields, status: e.status}; }
    }""")
    assert error["status"] == 400 and isinstance(error["fields"]["model_name"], list)
    assert re.search(r"^model_name: \S", error["message"], re.M) and "{" not in error["message"]
    page.errors[:] = [e for e in page.errors if "status of 400" not in e]   # the browser logs the reply
