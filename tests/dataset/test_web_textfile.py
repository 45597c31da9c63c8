"""Textfile datasets through the web app: uploaded or server-side lists, shuffle, test list, bad lists."""
import io
import os

import pytest

from digits.dataset.reader import LmdbDataset
from tests.helpers import wait_status


def _lists(tmp_path, web):
    base = web.tree(tmp_path / "base", per_class=3, size=(6, 6))
    train = "".join(f"{k}/{i}.png {k}\n" for k in range(3) for i in range(2))
    val = "".join(f"{base}/{k}/2.png {k}\n" for k in range(3))
    return base, train, val


def test_textfile_uploads(client, tmp_path, web):
    base, train, val = _lists(tmp_path, web)
    response = web.create(client, method="textfile", dataset_name="lists", resize_width="6", resize_height="6",
                          textfile_train_images=(io.BytesIO(train.encode()), "train.txt"),
                          textfile_train_folder=str(base), textfile_use_val="1",
                          textfile_val_images=(io.BytesIO(val.encode()), "val.txt"),
                          textfile_labels_file=(io.BytesIO(b"zero\none\ntwo\n"), "labels.txt"))
    assert response.status_code == 200, response.data
    job = web.job(client, response.get_json()["id"])
    assert wait_status(job, ("Done", "Error"), timeout=120) == "Done", job.error()
    info = job.info()
    assert job.labels() == ["zero", "one", "two"]
    assert info["splits"]["train"]["per_class"] == [2, 2, 2] and info["splits"]["val"]["count"] == 3


def test_textfile_local_files(client, tmp_path, web):
    base, train, _ = _lists(tmp_path, web)
    (base / "train.txt").write_text(train)  # relative paths: relative to the list file
    (tmp_path / "labels.txt").write_text("a\nb\nc\n")
    response = web.create(client, method="textfile", dataset_name="local", resize_width="6", resize_height="6",
                          textfile_use_local_files="1", textfile_local_train_images=str(base / "train.txt"),
                          textfile_use_val="0", textfile_local_labels_file=str(tmp_path / "labels.txt"))
    assert response.status_code == 200, response.data
    job = web.job(client, response.get_json()["id"])
    assert wait_status(job, ("Done", "Error"), timeout=120) == "Done", job.error()
    assert [t.name for t in job.tasks] == ["parse", "create_db_train"]


@pytest.mark.parametrize("train,words", [
    ("0/0.png 0\n0/1.png\n", "line 2"),
    ("0/0.png 0\n\n0/1.png 5\n", "line 3: unknown label 5"),
    ("/etc/passwd 0\n", "outside"),
])
def test_textfile_bad_lists(client, tmp_path, train, words, web):
    base, _, _ = _lists(tmp_path, web)
    response = web.create(client, method="textfile", dataset_name="bad", textfile_use_val="0",
                          textfile_train_images=(io.BytesIO(train.encode()), "train.txt"),
                          textfile_train_folder=str(base),
                          textfile_labels_file=(io.BytesIO(b"zero\none\ntwo\n"), "labels.txt"))
    assert response.status_code == 400
    message = " ".join(response.get_json()["errors"]["textfile_train_images"])
    assert words in message, message
    assert web.no_leftovers(client)


def test_textfile_bad_upload_named_as_uploaded(client, tmp_path, web):
    base, _, _ = _lists(tmp_path, web)
    response = web.create(client, method="textfile", dataset_name="bad", textfile_use_val="0",
                          textfile_train_images=(io.BytesIO(b"0/0.png 0\n0/1.png\n"), "my train.txt"),
                          textfile_train_folder=str(base),
                          textfile_labels_file=(io.BytesIO(b"\n\n"), "my labels.txt"))
    assert response.status_code == 400
    message = " ".join(response.get_json()["errors"]["textfile_labels_file"])
    assert '"my labels.txt" has no labels' in message and ".new-" not in message and "upload" not in message
    response = web.create(client, method="textfile", dataset_name="bad", textfile_use_val="0",
                          textfile_train_images=(io.BytesIO(b"0/0.png 0\n0/1.png\n"), "my train.txt"),
                          textfile_train_folder=str(base),
                          textfile_labels_file=(io.BytesIO(b"a\nb\nc\n"), "labels.txt"))
    message = " ".join(response.get_json()["errors"]["textfile_train_images"])
    assert "train list (my train.txt) line 2" in message, message
    assert web.no_leftovers(client)


def test_textfile_test_list_without_shuffle(client, tmp_path, web):
    base, train, val = _lists(tmp_path, web)
    test = "".join(f"{base}/{k}/{i}.png {k}\n" for k in (2, 1, 0) for i in (2, 1))  # a deliberate order
    response = web.create(client, method="textfile", dataset_name="lists", resize_width="6", resize_height="6",
                          textfile_train_images=(io.BytesIO(train.encode()), "train.txt"),
                          textfile_train_folder=str(base), textfile_use_val="0",
                          textfile_use_test="1", textfile_test_images=(io.BytesIO(test.encode()), "test.txt"),
                          textfile_shuffle="0",
                          textfile_labels_file=(io.BytesIO(b"zero\none\ntwo\n"), "labels.txt"))
    assert response.status_code == 200, response.data
    job = web.job(client, response.get_json()["id"])
    assert wait_status(job, ("Done", "Error"), timeout=120) == "Done", job.error()
    assert [t.name for t in job.tasks] == ["parse", "create_db_train", "create_db_test"]
    assert "--shuffle" not in job.tasks[0].args
    written = open(os.path.join(job.dir, "test.txt")).read().splitlines()
    assert written == test.splitlines()  # kept in the list's order
    assert LmdbDataset(os.path.join(job.dir, "test_db"))[0][1] == 2
