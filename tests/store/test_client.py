"""The store client on its own: folder listings and master.json, over file:// and loopback HTTP; every
broken store or model is a message naming what is wrong; downloads are capped and names checked."""
import io
import json

import pytest

from digits.store import client
from digits.store.info import StoreError
from tests.store.kit import (closed_port_url, digits_files, digits_info, file_url, http_store, models_by_dir,
                             write_model_dir)


def test_index_pages_link_model_folders_only():
    base = "http://host/store/"
    page = b"""<html><body><a href="../">../</a> <a href="?C=N;O=D">Name</a> <a href="/">Parent Directory</a>
      <a href="alexnet/">alexnet/</a> <a href="./lenet/">lenet/</a> <a href="lenet/">again</a>
      <a href="info.txt">a file</a> <a href="http://other/x/">elsewhere</a> <a href="a/b/">deeper</a>
      <a href="my%20net/">spaced</a> <a href="%2E%2E/">encoded dots</a>
      <a href="/store/googlenet/">absolute</a></body></html>"""
    assert client.folder_links(base, page) == ["alexnet", "lenet", "my net", "googlenet"]


def test_file_store_folder_listing_and_ids(tmp_path):
    write_model_dir(tmp_path, "b", digits_info(name="B"), digits_files())
    write_model_dir(tmp_path, "a", digits_info(name="A"), digits_files())
    (tmp_path / ".publish-x").mkdir()   # a publish in progress is not a model
    base = file_url(tmp_path)
    listing = client.listing([base.rstrip("/")])   # the trailing slash is optional
    store = listing[base]
    assert store["base_url"] == base and store["welcome_msg"] == f"Thanks for visiting {base}"
    assert [m["dir_name"] for m in store["model_list"]] == ["a", "b"]
    assert store["model_list"][0]["info"]["name"] == "A" and "error" not in store["model_list"][0]
    # ids are stable: the same on every listing
    assert [m["id"] for m in client.listing([base])[base]["model_list"]] == [m["id"] for m in store["model_list"]]


def test_http_folder_listing_and_master_json(tmp_path):
    write_model_dir(tmp_path, "lenet", digits_info(), digits_files())
    (tmp_path / "lenet" / "aux.json").write_text(json.dumps({"description": "handwritten digits"}))
    write_model_dir(tmp_path, "other", digits_info(), digits_files())
    with http_store(tmp_path) as url:
        models = models_by_dir(client.listing([url]), url)
        assert sorted(models) == ["lenet", "other"]
        assert models["lenet"]["aux"] == {"description": "handwritten digits"} and "aux" not in models["other"]
        (tmp_path / "master.json").write_text(json.dumps({"msg": "Team models", "children": ["lenet"]}))
        store = client.listing([url])[url]
        assert store["welcome_msg"] == "Team models" and [m["dir_name"] for m in store["model_list"]] == ["lenet"]


@pytest.mark.parametrize("case", ["broken master", "master not listing", "http 404",
                                  "refused", "not a url", "no folder"])
def test_broken_stores_are_a_message(tmp_path, case):
    expected = {"broken master": "master.json is not valid JSON", "master not listing": '"children": a list',
                "http 404": "answered HTTP 404",
                "refused": "cannot reach", "not a url": "must start with http://",
                "no folder": "cannot read the store folder"}[case]
    served = tmp_path / "served"
    served.mkdir()
    if case == "broken master":
        (served / "master.json").write_text('{"msg": "hi", "children": [')
    elif case == "master not listing":
        (served / "master.json").write_text('{"msg": "hi", "children": "lenet"}')
    with http_store(served) as url:
        target = {"http 404": url + "nothere/", "refused": closed_port_url(), "not a url": "/srv/store",
                  "no folder": file_url(tmp_path / "missing")}.get(case, url)
        (store,) = client.listing([target]).values()
    assert store["model_list"] == [] and expected in store["error"], store["error"]


def test_a_bad_master_json_child_is_a_broken_model_and_the_others_stay(tmp_path):
    write_model_dir(tmp_path, "lenet", digits_info(), digits_files())
    write_model_dir(tmp_path, "other", digits_info(name="Other"), digits_files())
    (tmp_path / "master.json").write_text(json.dumps({"msg": "Team", "children": ["lenet", "../etc", 7, "other"]}))
    with http_store(tmp_path) as url:
        store = client.listing([url])[url]
        assert "error" not in store and store["welcome_msg"] == "Team"
        models = {m["dir_name"]: m for m in store["model_list"]}
        assert list(models) == ["lenet", "../etc", "7", "other"]
        assert "error" not in models["lenet"] and models["other"]["info"]["name"] == "Other"
        assert "not a path: '../etc'" in models["../etc"]["error"] and models["../etc"]["info"] == {}
        assert "must be a file name, got 7" in models["7"]["error"]
        with pytest.raises(StoreError, match="not a path: '../etc'"):   # and a push of it reads nothing
            client.download_model(url, "../etc", str(tmp_path), 10 ** 6)


@pytest.mark.parametrize("case", ["broken json", "not object", "no snapshot", "etc passwd", "dot dot",
                                  "backslash", "no info", "bad framework"])
def test_broken_models_are_a_message_and_the_others_stay(tmp_path, case):
    expected = {"broken json": "info.json is not valid JSON", "not object": "must hold a JSON object",
                "no snapshot": "has no 'snapshot file'", "etc passwd": "not a path: '/etc/passwd'",
                "dot dot": "not a path: '../x'", "backslash": "not a path", "no info": "does not exist",
                "bad framework": '"framework" must be a name'}[case]
    write_model_dir(tmp_path, "good", digits_info(), digits_files())
    info = digits_info()
    raw = None
    if case == "broken json":
        raw = b'{"name": "x",'
    elif case == "not object":
        raw = b'["a list"]'
    elif case == "no snapshot":
        del info["snapshot file"]
    elif case == "etc passwd":
        info["labels file"] = "/etc/passwd"
    elif case == "dot dot":
        info["snapshot file"] = "../x"
    elif case == "backslash":
        info["network file"] = "..\\network.py"
    elif case == "bad framework":
        info["framework"] = ["torch"]
    if case == "no info":
        (tmp_path / "bad").mkdir()
    else:
        write_model_dir(tmp_path, "bad", info, digits_files(), raw_info=raw)
    base = file_url(tmp_path)
    models = models_by_dir(client.listing([base]), base)
    assert expected in models["bad"]["error"], models["bad"]["error"]
    assert "error" not in models["good"]
    with pytest.raises(StoreError) as refused:
        client.download_model(base, "bad", str(tmp_path / "dl"), 10 ** 6)
    assert expected in str(refused.value)


def test_downloads_stream_under_the_cap(tmp_path):
    write_model_dir(tmp_path / "store", "m", digits_info(), digits_files(weights=b"w" * 5000))
    (tmp_path / "dl").mkdir()
    base = file_url(tmp_path / "store")
    info, files, total = client.download_model(base, "m", str(tmp_path / "dl"), 10 ** 6)
    assert info["name"] == "tiny" and set(files) == {"weights", "network", "labels"}
    path, name = files["weights"]
    assert name == "snapshot.pt" and path.endswith("snapshot.pt") and open(path, "rb").read() == b"w" * 5000
    assert total == 5000 + len(digits_files()["network.py"]) + len(digits_files()["labels.txt"])
    with http_store(tmp_path / "store") as url:
        (tmp_path / "dl2").mkdir()
        with pytest.raises(StoreError, match="download limit of"):   # announced by Content-Length
            client.download_model(url, "m", str(tmp_path / "dl2"), 4000)
    # a stream that does not say its length is cut off as soon as it passes the cap
    with pytest.raises(StoreError, match="too big"):
        client._copy(io.BytesIO(b"x" * 5000), [].append, 1000, None, "u", "too big")


def test_missing_weights_name_the_url(tmp_path):
    files = digits_files()
    del files["snapshot.pt"]
    write_model_dir(tmp_path / "store", "m", digits_info(), files)
    (tmp_path / "dl").mkdir()
    with http_store(tmp_path / "store") as url:
        with pytest.raises(StoreError, match=r"m/snapshot.pt answered HTTP 404") as refused:
            client.download_model(url, "m", str(tmp_path / "dl"), 10 ** 6)
    assert refused.value.status == 502
