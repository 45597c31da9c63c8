"""The new-dataset page itself: folder or archive (not both), the clone of an archive-based dataset,
the split shares hidden by separate folders, and server path completion from the shared script."""
import io
import re
import zipfile

from tests.helpers import wait_status


def _zip_of(tree):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for path in sorted(tree.rglob("*")):
            if path.is_file():
                archive.write(path, str(path.relative_to(tree)))
    buf.seek(0)
    return buf


def _clone_page(client, job_id):
    response = client.get(f"/clone/{job_id}", follow_redirects=True)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_a_folder_and_an_archive_together_are_refused(client, tmp_path, web):
    tree = web.tree(tmp_path / "src", per_class=2, size=(4, 4))
    response = web.create(client, dataset_name="both", resize_width="4", resize_height="4",
                          folder_train=str(tree), folder_train_archive=(_zip_of(tree), "data.zip"))
    assert response.status_code == 400
    assert response.get_json()["errors"] == {"folder_train": [
        "give a folder or an archive, not both: clear the folder or the upload"]}
    assert web.no_leftovers(client)
    # either one alone is fine
    alone = web.create(client, dataset_name="folder", resize_width="4", resize_height="4", folder_train=str(tree))
    assert alone.status_code == 200, alone.data
    wait_status(web.job(client, alone.get_json()["id"]), ("Done", "Error"), timeout=120)


def test_clone_of_an_archive_dataset_asks_for_the_archive_again(client, tmp_path, web):
    tree = web.tree(tmp_path / "src", per_class=3, size=(4, 4))
    zipped = web.create(client, dataset_name="zipped", resize_width="4", resize_height="4",
                        folder_train_archive=(_zip_of(tree), "my digits.zip"))
    assert zipped.status_code == 200, zipped.data
    page = _clone_page(client, zipped.get_json()["id"])
    note = re.search(r'<div[^>]*id="clone-archive-note"[^>]*>(.*?)</div>', page, re.S)
    assert note, "no note about the uploaded archive"
    text = " ".join(re.sub(r"<[^>]+>", "", note.group(1)).split())
    assert text == "This dataset was made from an uploaded archive (my digits.zip): upload it again."
    folder = web.create(client, dataset_name="folder", resize_width="4", resize_height="4", folder_train=str(tree))
    assert 'id="clone-archive-note"' not in _clone_page(client, folder.get_json()["id"])
    assert 'id="clone-archive-note"' not in client.get("/datasets/images/classification/new").get_data(as_text=True)
    wait_status(web.job(client, zipped.get_json()["id"]), ("Done", "Error"), timeout=120)


def test_split_shares_are_hidden_by_separate_folders(client, tmp_path, web):
    page = client.get("/datasets/images/classification/new").get_data(as_text=True)
    assert re.search(r'<div class="col-md-6" data-hidden-by="has_val_folder" id="pct-val">', page)
    assert re.search(r'<div class="col-md-6" data-hidden-by="has_test_folder" id="pct-test">', page)
    train = web.tree(tmp_path / "train", per_class=2, size=(4, 4))
    val = web.tree(tmp_path / "val", per_class=1, size=(4, 4))
    reply = web.create(client, dataset_name="sep", resize_width="4", resize_height="4", folder_train=str(train),
                       has_val_folder="true", folder_val=str(val))
    assert reply.status_code == 200, reply.data
    page = _clone_page(client, reply.get_json()["id"])
    assert re.search(r'data-hidden-by="has_val_folder" id="pct-val" hidden>', page)
    assert re.search(r'data-hidden-by="has_test_folder" id="pct-test">', page)
    wait_status(web.job(client, reply.get_json()["id"]), ("Done", "Error"), timeout=120)


def test_path_fields_use_the_shared_completion_script(client):
    page = client.get("/datasets/images/classification/new").get_data(as_text=True)
    assert '<script src="/static/js/path_complete.js"></script>' in page
    assert "/autocomplete/path" not in page   # no copy of the script's code inline
    for field in ("folder_train", "folder_val", "folder_test", "textfile_local_train_images"):
        tag = re.search(rf'<input[^>]*id="{field}"[^>]*>', page).group(0)
        assert 'list="path-suggestions"' in tag, tag
    assert '<datalist id="path-suggestions">' in page


def test_split_shares_must_leave_training_images_even_when_one_is_not_sent(client, tmp_path, web):
    tree = web.tree(tmp_path / "src", per_class=2, size=(4, 4))
    for fields in ({"folder_pct_val": "100"}, {"folder_pct_val": "60", "folder_pct_test": "40"}):
        response = web.create(client, dataset_name="no-train", resize_width="4", resize_height="4",
                              folder_train=str(tree), **fields)
        assert response.status_code == 400, response.data
        assert "must leave some images for training" in response.get_json()["errors"]["folder_pct_test"][0]
    assert web.no_leftovers(client)
