"""Every route that takes a server path refuses one outside DIGITS_ALLOWED_ROOTS, however it is spelled:
absolute, with "..", or through a symlink that lies inside the roots. Nothing is read and no job starts.

(/files/<path> and /autocomplete/path have their own tests in tests/platform/test_web.py.)
"""
import io
import os

import pytest

from tests.inference.kit import write_class_folders


@pytest.fixture(scope="module")
def outside(world, tmp_path_factory):
    """Real images, a list file and a labels file in a folder outside the allowed roots, and the
    three spellings of each: {"folder": [...], "image": [...], "list": [...]}."""
    target = str(tmp_path_factory.mktemp("outside"))
    assert not os.path.realpath(target).startswith(os.path.realpath(world.root) + os.sep)
    folder = write_class_folders(os.path.join(target, "imgs"), 2, seed=3)
    image = os.path.join(folder, "red", sorted(os.listdir(os.path.join(folder, "red")))[0])
    listing = os.path.join(target, "train.txt")
    with open(listing, "w") as f:
        f.write(f"{image} 0\n")
    link = os.path.join(world.root, "link-out")
    if not os.path.islink(link):
        os.symlink(target, link)

    def spellings(path):
        rel = os.path.relpath(path, target)
        dotted = os.path.join(world.root, os.path.relpath(target, world.root))   # root/../outsideN/...
        assert ".." in dotted
        return [path, os.path.join(dotted, rel), os.path.join(link, rel)]

    yield {"folder": spellings(folder), "image": spellings(image), "list": spellings(listing)}
    os.unlink(link)


def _labels_in_root(world):
    path = os.path.join(world.root, "labels.txt")
    with open(path, "w") as f:
        f.write("blue\ngreen\nred\n")
    return path


DATASET = "/datasets/images/classification.json"
IMAGE_FIELDS = {"resize_channels": "3", "resize_width": "16", "resize_height": "16", "dataset_name": "escape"}


def _dataset_cases(world):
    labels = _labels_in_root(world)
    return {
        "folder_train": lambda p: (DATASET, dict(IMAGE_FIELDS, method="folder", folder_train=p), "folder_train"),
        "folder_val": lambda p: (DATASET, dict(IMAGE_FIELDS, method="folder", folder_train=world.train_dir,
                                               has_val_folder="y", folder_val=p), "folder_val"),
        "textfile_train_folder": lambda p: (DATASET, dict(
            IMAGE_FIELDS, method="textfile", textfile_use_local_files="y", textfile_local_labels_file=labels,
            textfile_local_train_images=_list_in_root(world), textfile_train_folder=p), "textfile_train_folder"),
    }


def _list_in_root(world):
    path = os.path.join(world.root, "ok.txt")
    red = os.path.join(world.train_dir, "red")
    with open(path, "w") as f:
        f.write("".join(f"red/{name} 2\n" for name in sorted(os.listdir(red))[:4]))
    return path


def _model_cases(world):
    prefix = "/models/images/classification"
    return {
        "classify_one image_path": ("image", lambda p: (f"{prefix}/classify_one.json",
                                                          {"job_id": world.torch_model.id, "image_path": p}, None)),
        "classify_many image_folder": ("folder", lambda p: (f"{prefix}/classify_many.json",
                                                              {"job_id": world.torch_model.id, "image_folder": p}, None)),
        "top_n image_folder": ("folder", lambda p: (f"{prefix}/top_n.json",
                                                      {"job_id": world.torch_model.id, "image_folder": p}, None)),
    }


def _assert_refused(world, url, data, field):
    before = set(world.sched.jobs)
    response = world.client.post(url, data=data)
    assert response.status_code == 400, (url, data, response.data)
    body = response.get_json()
    message = " ".join(body["errors"][field]) if field else body["error"]["message"]
    assert "outside the folders this server may read" in message, message
    assert set(world.sched.jobs) == before


@pytest.mark.parametrize("spelling", [0, 1, 2], ids=["absolute", "dotdot", "symlink"])
@pytest.mark.parametrize("case", ["folder_train", "folder_val", "textfile_train_folder"])
def test_dataset_routes_refuse_paths_outside_the_roots(world, outside, case, spelling):
    url, data, field = _dataset_cases(world)[case](outside["folder"][spelling])
    _assert_refused(world, url, data, field)


@pytest.mark.parametrize("spelling", [0, 1, 2], ids=["absolute", "dotdot", "symlink"])
def test_dataset_local_list_files_outside_the_roots_are_refused(world, outside, spelling):
    data = dict(IMAGE_FIELDS, method="textfile", textfile_use_local_files="y",
                textfile_local_labels_file=_labels_in_root(world), textfile_local_train_images=outside["list"][spelling])
    _assert_refused(world, DATASET, data, "textfile_local_train_images")


@pytest.mark.parametrize("spelling", [0, 1, 2], ids=["absolute", "dotdot", "symlink"])
@pytest.mark.parametrize("case", ["classify_one image_path", "classify_many image_folder", "top_n image_folder"])
def test_inference_routes_refuse_paths_outside_the_roots(world, outside, case, spelling):
    kind, make = _model_cases(world)[case]
    url, data, field = make(outside[kind][spelling])
    _assert_refused(world, url, data, field)


def test_image_lists_naming_files_outside_the_roots_read_none_of_them(world, outside):
    listing = "".join(f"{path} 2\n" for path in outside["image"]).encode()
    response = world.client.post("/models/images/classification/classify_many.json", data={
        "job_id": world.torch_model.id, "image_list": (io.BytesIO(listing), "list.txt")})
    assert response.status_code == 400, response.data
    message = response.get_json()["error"]["message"]
    assert message.startswith("none of the images can be read")
    assert message.count("outside the folders this server may read") == 3
