"""The store routes when stores or their models are broken: the page and the listing show a message per
store and per model, pushes are refused with a clear message (never a 500) and leave no job behind."""
import glob
import os
import tempfile

import pytest

from digits.store import client
from tests.helpers import login
from tests.store.kit import (closed_port_url, digits_files, digits_info, file_url, http_store, models_by_dir,
                             store_urls, write_model_dir)


@pytest.fixture
def broken_store(tmp_path):
    """A file:// store with one model of each kind of trouble (and nothing usable)."""
    store = tmp_path / "store"
    write_model_dir(store, "broken-json", raw_info=b'{"name": "x", ')
    write_model_dir(store, "etc-passwd", digits_info(**{"snapshot file": "/etc/passwd"}), digits_files())
    write_model_dir(store, "dot-dot", digits_info(**{"network file": "../x"}), digits_files())
    files = digits_files()
    del files["snapshot.pt"]
    write_model_dir(store, "missing-weights", digits_info(), files)
    write_model_dir(store, "big", digits_info(), digits_files(weights=b"w" * 4096))
    return store


def _pretrained_jobs(app):
    return [j for j in app.extensions["digits"]["scheduler"].jobs.values() if j.category == "pretrained_models"]


def test_no_store_configured(client):
    assert client.get("/store/models").get_json() == {}
    page = client.get("/store/list").get_data(as_text=True)
    assert 'id="store-empty"' in page and "DIGITS_MODEL_STORE_URL" in page
    response = client.get("/store/push.json?id=nothing")
    assert response.status_code == 404 and "no model with id 'nothing'" in response.get_json()["error"]["message"]


def test_config_reads_the_store_urls(monkeypatch):
    from digits.config import load_config
    monkeypatch.setenv("DIGITS_MODEL_STORE_URL", "http://a/store, file:///srv/store/,")
    monkeypatch.setenv("DIGITS_MODEL_STORE_MAX_MB", "3")
    config = load_config({"jobs_dir": tempfile.mkdtemp(), "secret_key": "x"})
    assert config["model_store_urls"] == ["http://a/store", "file:///srv/store/"]
    assert config["model_store_max_bytes"] == 3 * 1024 * 1024


def test_unreachable_and_broken_stores_keep_the_page(app, client, tmp_path, broken_store):
    (tmp_path / "served").mkdir()
    (tmp_path / "served" / "master.json").write_text("{not json")
    refused, base = closed_port_url(), file_url(broken_store)
    with http_store(tmp_path / "served") as served, store_urls(app, refused, served, served + "gone/", base):
        listing = client.get("/store/models?refresh=1").get_json()
        assert set(listing) == {refused, served, served + "gone/", base}
        assert "Connection refused" in listing[refused]["error"]
        assert "master.json is not valid JSON" in listing[served]["error"]
        assert "HTTP 404" in listing[served + "gone/"]["error"]
        models = models_by_dir(listing, base)
        assert "is not valid JSON" in models["broken-json"]["error"]
        assert "not a path: '/etc/passwd'" in models["etc-passwd"]["error"]
        assert "not a path: '../x'" in models["dot-dot"]["error"]
        assert "error" not in models["missing-weights"]   # found out on push
        page = client.get("/store/list")
        text = page.get_data(as_text=True)
        assert page.status_code == 200
        assert text.count('class="alert alert-warning py-2 store-error"') == 3 and "Connection refused" in text
        assert "/etc/passwd" in text and text.count("btn-store-use") == 2   # missing-weights and big
        assert text.count("(H×W×C)") == 4   # not on broken-json's row, whose info.json says no size
        anonymous = app.test_client().get("/store/list").get_data(as_text=True)
        assert anonymous.count("btn-store-login") == 2 and "btn-store-use" not in anonymous   # push needs a login


@pytest.mark.parametrize("case", ["etc-passwd", "dot-dot", "broken-json", "missing-weights", "big"])
def test_pushes_of_broken_models_are_refused(make_app, tmp_path, broken_store, case):
    app = make_app(model_store_max_bytes=4000)
    client = login(app.test_client())
    base = file_url(broken_store)
    expected = {"etc-passwd": (400, '"snapshot file" must be a bare name inside the model folder, not a path: '
                                    "'/etc/passwd'"),
                "dot-dot": (400, "not a path: '../x'"), "broken-json": (400, "broken-json/info.json is not valid JSON"),
                "missing-weights": (502, "missing-weights/snapshot.pt does not exist"),
                "big": (400, "larger than the model store download limit of 4,000 bytes")}[case]
    downloads_before = set(glob.glob(os.path.join(tempfile.gettempdir(), "digits-store-*")))
    jobs_before = set(os.listdir(app.extensions["digits"]["config"]["jobs_dir"]))
    with store_urls(app, base):
        response = client.get(f"/store/push.json?id={client_id(base, case)}")
        page = client.get(f"/store/push?id={client_id(base, case)}", headers={"Accept": "text/html",
                                                                              "Sec-Fetch-Site": "same-origin"})
    assert response.status_code == expected[0], response.data
    assert expected[1] in response.get_json()["error"]["message"]
    escaped = expected[1].replace('"', "&#34;").replace("'", "&#39;")
    assert page.status_code == expected[0] and escaped in page.get_data(as_text=True)
    assert _pretrained_jobs(app) == []
    assert set(os.listdir(app.extensions["digits"]["config"]["jobs_dir"])) == jobs_before   # no half-made job
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "digits-store-*"))) == downloads_before


def client_id(base, dir_name):
    return client.model_id(base, dir_name)


def test_push_from_a_store_that_went_away(app, tmp_path):
    web = login(app.test_client())
    write_model_dir(tmp_path / "store", "m", digits_info(), digits_files())
    with http_store(tmp_path / "store") as url, store_urls(app, url):
        model = web.get("/store/models").get_json()[url]["model_list"][0]
        assert "error" not in model
    with store_urls(app, url):   # the server is gone now; the cached listing still has the model
        response = web.get(f"/store/push.json?id={model['id']}")
    assert response.status_code == 502 and "Connection refused" in response.get_json()["error"]["message"]
    assert _pretrained_jobs(app) == []


def test_push_and_publish_need_a_login(app):
    anonymous = app.test_client()
    assert anonymous.get("/store/push.json?id=x").status_code == 401
    assert anonymous.post("/models/x/publish.json").status_code == 401
    assert anonymous.get("/store/list").status_code == 200   # reading the store is open like the home page
    # a page's POST form (the store's "Use") sends a logged-out browser to the login page, not to /login.json
    page = anonymous.post("/store/push", data={"id": "x"}, headers={"Accept": "text/html"})
    assert page.status_code == 302 and page.headers["Location"].startswith("/login?")
    other_site = login(app.test_client()).get("/store/push?id=x", headers={"Sec-Fetch-Site": "cross-site"})
    assert other_site.status_code == 403


def test_publish_refusals_without_a_model(app, client, tmp_path):
    response = client.post("/models/nothing/publish.json", data={"store": file_url(tmp_path)})
    assert response.status_code == 404


def test_store_routes_are_documented(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert {"/store/models", "/store/push.json", "/models/{job_id}/publish.json"} <= set(paths)
    assert "502" in paths["/store/push.json"]["get"]["responses"]
