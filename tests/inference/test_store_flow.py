"""A trained model published into a file:// store, listed back (file://, HTTP folder listing, HTTP
master.json), pushed in as a pretrained model that classifies like the model it came from, and
fine-tuned into a new model for one epoch."""
import json
import shutil
import types

import pytest

from tests.helpers import login, wait_status
from tests.inference.kit import probe_files
from tests.store.kit import file_url, http_store, models_by_dir, store_urls

URL = "/models/images/classification"


def classify(client, job_id, path, **fields):
    response = client.post(f"{URL}/classify_one.json", data={"job_id": job_id, "image_path": path, **fields})
    assert response.status_code == 200, response.data
    return response.get_json()["predictions"]


def publish(client, model_id, **fields):
    return client.post(f"/models/{model_id}/publish.json", data=fields)


@pytest.fixture(scope="module")
def store(world, tmp_path_factory):
    """Two file:// stores, the second with a master.json; the torch model's epoch 3 published into the first."""
    plain, team = tmp_path_factory.mktemp("store"), tmp_path_factory.mktemp("team-store")
    (team / "master.json").write_text(json.dumps({"msg": "Team models", "children": []}))
    urls = (file_url(plain), file_url(team))
    with store_urls(world.app, *urls):
        response = publish(world.client, world.torch_model.id, store=urls[0], dir_name="colors", snapshot_epoch="3")
    assert response.status_code == 200, response.data
    return types.SimpleNamespace(plain=plain, team=team, urls=urls, published=response.get_json())


def test_published_folder_is_in_the_store_format(world, store):
    folder = store.plain / "colors"
    assert sorted(p.name for p in folder.iterdir()) == ["info.json", "labels.txt", "mean.binaryproto", "network.py",
                                                       "preprocess.json", "weights.pt"]
    info = json.loads((folder / "info.json").read_text())
    assert info == store.published["info"]
    assert (info["name"], info["framework"], info["snapshot file"], info["network file"], info["labels file"],
            info["mean file"], info["preprocess file"]) == ("torch-colors", "torch", "weights.pt", "network.py",
                                                          "labels.txt", "mean.binaryproto", "preprocess.json")
    assert info["image dimensions"] == [16, 16, 3] and info["epoch"] == 3 and info["job_id"] == world.torch_model.id
    assert info["published_by"] == "alice"
    assert (folder / "labels.txt").read_text() == "blue\ngreen\nred\n"
    assert not [p for p in store.plain.iterdir() if p.name.startswith(".")]   # no staging left


def test_publish_refusals(world, store):
    client, model = world.client, world.torch_model
    with store_urls(world.app, *store.urls):
        again = publish(client, model.id, store=store.urls[0], dir_name="colors")
        assert again.status_code == 409
        assert "already holds a model folder named 'colors'" in again.get_json()["error"]["message"]
        for fields, message in (({"store": store.urls[0], "dir_name": "../x"}, "not a path: '../x'"),
                                ({"store": "file:///elsewhere/"}, "store must be one of"),
                                ({}, "store must be one of"),   # two stores: which one must be said
                                ({"store": store.urls[0], "snapshot_epoch": "7"}, "no snapshot for epoch 7")):
            response = publish(client, model.id, **fields)
            assert response.status_code == 400 and message in response.get_json()["error"]["message"], response.data
        bob = login(world.app.test_client(), "bob")
        response = publish(bob, model.id, store=store.urls[0], dir_name="bobs")
        assert response.status_code == 403 and not (store.plain / "bobs").exists()
        page = client.get(f"/models/{model.id}").get_data(as_text=True)
        assert 'id="btn-publish"' in page and store.urls[1] in page
        assert 'name="overwrite" value="1" id="publish-overwrite"' in page   # the page can replace a folder too
        assert 'id="btn-publish"' not in bob.get(f"/models/{model.id}").get_data(as_text=True)
    with store_urls(world.app, "http://127.0.0.1:9/"):   # only file:// stores can be written
        response = publish(client, model.id)
        assert response.status_code == 409 and "no file:// model store" in response.get_json()["error"]["message"]
        assert 'id="btn-publish"' not in client.get(f"/models/{model.id}").get_data(as_text=True)


def test_publish_into_a_master_json_store_and_overwrite(world, store):
    with store_urls(world.app, *store.urls):
        for overwrite in ("", "1"):
            response = publish(world.client, world.torch_model.id, store=store.urls[1], snapshot_epoch="2",
                               overwrite=overwrite)
            assert response.status_code == 200, response.data
        assert response.get_json()["dir_name"] == "torch-colors_epoch_2"
        master = json.loads((store.team / "master.json").read_text())
        assert master == {"msg": "Team models", "children": ["torch-colors_epoch_2"]}
        listing = world.client.get("/store/models").get_json()   # the cache was dropped by the publish
        team = listing[store.urls[1]]
        assert team["welcome_msg"] == "Team models"
        assert [m["dir_name"] for m in team["model_list"]] == ["torch-colors_epoch_2"]
        assert team["model_list"][0]["id"] == response.get_json()["id"]


def _push(world, model_id):
    response = world.client.get(f"/store/push.json?id={model_id}")
    assert response.status_code == 200, response.data
    job = world.sched.get_job(response.get_json()["id"])
    assert job.status == "Done" and job.category == "pretrained_models"
    return job


def test_push_from_file_store_classifies_and_fine_tunes(world, store):
    with store_urls(world.app, *store.urls):
        models = models_by_dir(world.client.get("/store/models?refresh=1").get_json(), store.urls[0])
        page = world.client.get("/store/list").get_data(as_text=True)
        assert f'data-model-id="{models["colors"]["id"]}"' in page and "torch-colors" in page
        job = _push(world, models["colors"]["id"])
    assert job.name == "torch-colors" and job.framework == "torch"
    assert job.extra["info"]["source"] == "store" and job.extra["info"]["dir_name"] == "colors"
    assert "Pushed from the model store" in job.notes
    for name in ("red", "green"):
        image = probe_files(world, name)[0]
        assert classify(world.client, job.id, image) == classify(world.client, world.torch_model.id, image,
                                                                snapshot_epoch="3")
    response = world.client.post("/models/images/classification.json", data={
        "method": "pretrained", "pretrained_networks": job.id, "framework": "torch", "model_name": "from-store",
        "dataset": world.dataset.id, "train_epochs": "1", "random_seed": "3", "learning_rate": "0.01",
        "batch_size": "8"})
    assert response.status_code == 200, response.data
    tuned = world.sched.get_job(response.get_json()["id"])
    assert wait_status(tuned, ("Done", "Error"), timeout=180) == "Done", tuned.error()
    assert tuned.train_task.results["pretrained_loaded_layers"] and tuned.train_task.results["val_accuracy"] == 100.0


def test_push_from_http_folder_listing_and_master_json(world, store, tmp_path):
    served = tmp_path / "served"
    shutil.copytree(store.plain / "colors", served / "listed")
    with http_store(served) as url, store_urls(world.app, url):
        models = models_by_dir(world.client.get("/store/models?refresh=1").get_json(), url)
        assert list(models) == ["listed"] and models["listed"]["info"]["name"] == "torch-colors"
        job = _push(world, models["listed"]["id"])
        image = probe_files(world, "blue")[1]
        assert classify(world.client, job.id, image) == classify(world.client, world.torch_model.id, image,
                                                                snapshot_epoch="3")
        shutil.copytree(store.plain / "colors", served / "team-colors")
        (served / "master.json").write_text(json.dumps({"msg": "Over HTTP", "children": ["team-colors"]}))
        listing = world.client.get("/store/models?refresh=1").get_json()[url]
        assert listing["welcome_msg"] == "Over HTTP"
        assert [m["dir_name"] for m in listing["model_list"]] == ["team-colors"]
        response = world.client.get(f"/store/push?id={listing['model_list'][0]['id']}&job_name=via-master",
                                    headers={"Sec-Fetch-Site": "same-origin", "Accept": "text/html"})
        assert response.status_code == 302   # the page goes to the new pretrained model
        pushed = world.sched.get_job(response.headers["Location"].rstrip("/").split("/")[-1])
        assert pushed.name == "via-master" and pushed.status == "Done"


def test_push_a_digits_model_without_preprocess_json(world, store, tmp_path):
    """DIGITS' own info.json: the input size in "image dimensions", weights checked with weights_only."""
    from tests.inference.kit import unsafe_weights
    folder = tmp_path / "digits-store" / "lenet"
    shutil.copytree(store.plain / "colors", folder)
    info = json.loads((folder / "info.json").read_text())
    del info["preprocess file"]
    info.update({"snapshot file": "snapshot_epoch_3.pt", "image resize mode": "crop"})
    (folder / "info.json").write_text(json.dumps(info))
    (folder / "preprocess.json").unlink()
    (folder / "snapshot_epoch_3.pt").write_bytes(unsafe_weights())
    base = file_url(tmp_path / "digits-store")
    with store_urls(world.app, base):
        (model,) = world.client.get("/store/models").get_json()[base]["model_list"]
        response = world.client.get(f"/store/push.json?id={model['id']}")
        assert response.status_code == 400 and "weights_only" in response.get_json()["error"]["message"]
        shutil.copyfile(world.torch_model.snapshot_path(3), folder / "snapshot_epoch_3.pt")
        job = _push(world, model["id"])
    preprocess = job.preprocess()
    assert (preprocess["resize_mode"], preprocess["height"], preprocess["channels"], preprocess["mean"]) == (
        "crop", 16, 3, "image")
    assert len(classify(world.client, job.id, probe_files(world, "red")[0])) == 3


def test_push_a_digits_caffe_model_takes_the_mean_its_train_val_subtracts(world, tmp_path):
    """DIGITS' pixel mean lives in train_val.prototxt's mean_value, not in info.json: as for a DIGITS archive."""
    from tests.inference.test_pretrained_caffe import DEPLOY, DIGITS_TRAIN_VAL, caffe_weights, predictions, probes
    folder = tmp_path / "digits-caffe" / "colors"
    folder.mkdir(parents=True)
    shutil.copyfile(world.caffe_model.path("mean.binaryproto"), folder / "mean.binaryproto")
    files = {"snapshot_iter_300.caffemodel": caffe_weights(world), "train_val.prototxt": DIGITS_TRAIN_VAL.encode(),
             "deploy.prototxt": DEPLOY.encode(), "labels.txt": b"blue\ngreen\nred\n"}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    info = {"name": "caffe-colors", "framework": "caffe", "snapshot file": "snapshot_iter_300.caffemodel",
            "model file": "train_val.prototxt", "labels file": "labels.txt", "mean file": "mean.binaryproto",
            "image dimensions": [16, 16, 3], "image resize mode": "squash"}
    base = file_url(tmp_path / "digits-caffe")
    with store_urls(world.app, base):
        (folder / "info.json").write_text(json.dumps(info))
        (model,) = world.client.get("/store/models?refresh=1").get_json()[base]["model_list"]
        job = _push(world, model["id"])
        assert job.preprocess()["mean"] == "pixel"
        assert predictions(world.client, job.id, probes(world)) == predictions(world.client, world.caffe_model.id,
                                                                               probes(world))
        (folder / "info.json").write_text(json.dumps(dict(info, **{"model file": "deploy.prototxt"})))
        deploy = _push(world, model["id"])   # the folder's train_val.prototxt says it
    assert "Input" in deploy.network_text() and deploy.preprocess()["mean"] == "pixel"
