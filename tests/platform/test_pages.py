"""Server-rendered pages (Flask test client, no training): model results and sources, job page
sections, home tables, the sweep redirect, the login link, Explore past its last page."""
import io
import json
import os
import re
from types import SimpleNamespace

import lmdb
import pytest
from PIL import Image

from digits.dataset.images.classification.job import ImageClassificationDatasetJob
from digits.model.job import ImageClassificationModelJob
from digits.pretrained_model.job import PretrainedModelJob
from digits.proto import caffe_pb2
from digits.status import Status
from tests.helpers import login

RESULTS = {"pretrained_file": "/srv/jobs/P/weights.pt", "batch_size": 64, "iterations_per_epoch": 4, "max_iter": 12,
           "random_seed": 1895191990, "device": "CPU", "parameters": 431080, "world_size": 1, "final_epoch": 3,
           "train_loss": 0.27696927547454836, "val_loss": 0.3328616976737976, "val_accuracy": 77.14285714285714,
           "val_accuracy_top5": 100.0, "train_images_per_sec": 510.47004824992644}


def _finish(job, status=Status.DONE):
    for s in (Status.WAIT, Status.RUN, status):
        job.set_status(s)
        for task in job.tasks:
            task.set_status(s)


def _dataset(jobs_dir, status=Status.DONE, records=0):
    job = ImageClassificationDatasetJob(jobs_dir, "digits", "alice")
    job.extra["params"] = {"image": {"width": 8, "height": 8, "channels": 1, "resize_mode": "squash",
                                     "encoding": "png"}}
    os.makedirs(job.dir)
    if records:
        _write_db(job.path("train_db"), records)
        with open(job.path("labels.txt"), "w") as f:
            f.write("a\nb\n")
        with open(job.path("dataset.json"), "w") as f:
            json.dump({"image_dims": [8, 8, 1], "num_classes": 2,
                       "splits": {"train": {"db": "train_db", "count": records, "per_class": [records, 0]}}}, f)
    if status != Status.INIT:
        _finish(job, status)
    job.save()
    return job


def _write_db(path, count):
    png = io.BytesIO()
    Image.new("L", (8, 8), 128).save(png, "PNG")
    with lmdb.open(path, map_size=1 << 22) as env, env.begin(write=True) as txn:
        for i in range(count):
            datum = caffe_pb2.Datum(channels=1, height=8, width=8, encoded=True, data=png.getvalue(), label=0)
            txn.put(b"%08d" % i, datum.SerializeToString())


def _model(jobs_dir, dataset, status=Status.DONE, snapshots=(1, 2, 3), results=None, form_data=None,
           weights_from=None, name="lenet-3ep", error=None):
    job = ImageClassificationModelJob.create(
        jobs_dir, name, "alice", "g1", dict(form_data or {"method": "standard"}), dataset, "caffe", "name: 'x'",
        {"train_epochs": 3, "random_seed": None, "solver_type": "SGD", "learning_rate": 0.01,
         "lr_policy": {"policy": "step"}, "batch_size": None,
         "pretrained": {"file": "w.pt", "lr_multiplier": 0.1} if weights_from else None},
        {}, weights_from=weights_from)
    task = job.train_task
    task.results = dict(results or {})
    task.snapshots = [{"epoch": e, "file": f"snapshot_epoch_{e}.pt"} for e in snapshots]
    for e in snapshots:
        open(job.path(f"snapshot_epoch_{e}.pt"), "wb").close()
    task.error = error
    _finish(job, status)
    job.save()
    return job


def _pretrained(jobs_dir):
    job = PretrainedModelJob(jobs_dir, "uploaded-lenet", "alice")
    job.extra.update(framework="caffe", network_file="network.prototxt", info={"layers": ["conv1"]})
    os.makedirs(job.dir)
    _finish(job)
    job.save()
    return job


@pytest.fixture
def site(make_app, jobs_dir):
    """Jobs written to disk first, then an app (scheduler not started: nothing runs) that loads them."""
    made = SimpleNamespace(jobs_dir=jobs_dir)

    def start():
        made.app = make_app(start_scheduler=False)
        made.client = login(made.app.test_client())
        return made
    made.start = start
    return made


def _get(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.data[:500]
    return response.get_data(as_text=True)


def test_results_show_readable_labels_and_rounded_values(site):
    dataset = _dataset(site.jobs_dir)
    model = _model(site.jobs_dir, dataset, results=RESULTS)
    page = _get(site.start().client, f"/models/{model.id}")
    results = page[page.index('id="final-results"'):page.index('id="combined-chart"')]
    assert "<th>Validation accuracy</th><td>77.14 %</td>" in results
    assert "<th>Validation loss</th><td>0.3329</td>" in results
    assert "<th>Parameters</th><td>431,080</td>" in results and "510 images/s" in results
    for internal in ("max_iter", "world_size", "pretrained_file", "/srv/jobs", "<th>val_accuracy", "random_seed"):
        assert internal not in results, internal
    assert "Final metrics appear" not in results
    assert "random (1895191990)" in page     # the seed the run drew, in the model facts


def test_model_started_from_a_pretrained_model_names_it_and_its_layers(site):
    dataset = _dataset(site.jobs_dir)
    source = _pretrained(site.jobs_dir)
    results = dict(RESULTS, pretrained_loaded_layers=["layers.conv1", "layers.ip1"],
                   pretrained_fresh_layers=["layers.ip2"])
    model = _model(site.jobs_dir, dataset, results=results, weights_from=source.id,
                   form_data={"method": "pretrained", "pretrained_networks": source.id})
    page = _get(site.start().client, f"/models/{model.id}")
    source_html = page[page.index('id="model-source"'):page.index("Epochs</dt>")]
    assert "pretrained model" in source_html and f'href="/pretrained_models/{source.id}"' in source_html
    assert "learning rate × 0.1" in source_html
    transfer = re.sub(r"\s+", " ", page[page.index('id="pretrained-transfer"'):])
    assert '>conv1</span>, <span class="layer-name" title="layers.ip1">ip1</span>;' in transfer
    assert 'trained fresh: <span class="layer-name" title="layers.ip2">ip2</span>.' in transfer


def test_model_started_from_a_previous_model_names_its_epoch(site):
    dataset = _dataset(site.jobs_dir)
    previous = _model(site.jobs_dir, dataset, name="first")
    results = dict(RESULTS, pretrained_file=previous.path("snapshot_epoch_2.pt"),
                   pretrained_loaded_layers=["layers.conv1"], pretrained_fresh_layers=[])
    model = _model(site.jobs_dir, dataset, results=results, weights_from=previous.id,
                   form_data={"method": "previous", "previous_networks": previous.id})
    page = _get(site.start().client, f"/models/{model.id}")
    source_html = page[page.index('id="model-source"'):page.index("Epochs</dt>")]
    assert f'href="/models/{previous.id}"' in source_html and f"{previous.id}</a>, epoch 2" in source_html
    standard = _get(site.client, f"/models/{previous.id}")
    assert 'id="model-source"' not in standard and 'id="pretrained-transfer"' not in standard


def test_a_model_without_snapshots_has_its_forms_ready_but_hidden(site):
    dataset = _dataset(site.jobs_dir)
    model = _model(site.jobs_dir, dataset, status=Status.RUN, snapshots=(), results={"batch_size": 64})
    page = _get(site.start().client, f"/models/{model.id}")
    assert re.search(r'id="inference-body"\s+hidden', page) and 'id="snapshot-select"' in page
    assert re.search(r'id="btn-download"[^>]*hidden', page)
    assert not re.search(r'id="no-snapshots"[^>]*hidden', page)
    assert "Final metrics appear when training ends." in page and "<th>Batch size</th><td>64</td>" in page


def test_snapshot_select_lists_every_epoch_newest_first(site):
    model = _model(site.jobs_dir, _dataset(site.jobs_dir), results=RESULTS)
    page = _get(site.start().client, f"/models/{model.id}")
    assert re.findall(r'<option value="(\d+)">Epoch #', page) == ["3", "2", "1"]
    assert not re.search(r'id="inference-body"\s+hidden', page)


def test_job_page_sections(site):
    dataset = _dataset(site.jobs_dir)
    failed = _model(site.jobs_dir, dataset, status=Status.ERROR, snapshots=(),
                    error="Traceback (most recent call last):\n  File x\nValueError: bad")
    pretrained = _pretrained(site.jobs_dir)
    client = site.start().client
    page = _get(client, f"/models/{failed.id}")
    assert 'class="alert alert-danger job-error"' in page and "File x\nValueError" in page
    history = page[page.index('id="status-history"'):]
    assert re.match(r'id="status-history">\s*<tbody>\s*<tr data-status="Initialized">', history)
    assert 'id="task-table"' in page and 'id="log-tail"' in page
    page = _get(client, f"/pretrained_models/{pretrained.id}")
    assert "This job has no tasks" not in page and 'id="task-table"' not in page and 'id="log-tail"' not in page
    assert 'id="status-history"' in page
    css = _get(client, "/static/css/digits.css")
    assert re.search(r"\.job-error\s*{[^}]*white-space:\s*pre-line", css)


def test_home_offers_clone_only_for_kinds_that_can_be_cloned(site):
    dataset = _dataset(site.jobs_dir)
    model = _model(site.jobs_dir, dataset, results=RESULTS)
    pretrained = _pretrained(site.jobs_dir)
    page = _get(site.start().client, "/")
    assert f'href="/clone/{model.id}"' in page and f'href="/clone/{dataset.id}"' in page
    assert f'href="/clone/{pretrained.id}"' not in page
    assert site.client.get(f"/clone/{model.id}").status_code == 302
    # every table has its filter message; the running ones are filtered too (rows carry their names)
    assert page.count('class="text-muted no-match" hidden') == 6
    assert page.count("Nothing running.") == 3
    assert re.search(r'empty-state" hidden>No completed pretrained models yet.', page)   # it has one


def test_home_running_rows_carry_what_the_filter_reads(site):
    dataset = _dataset(site.jobs_dir)
    running = _model(site.jobs_dir, dataset, status=Status.WAIT, snapshots=())
    page = _get(site.start().client, "/")
    row = re.search(rf'<tr data-job-id="{running.id}"[^>]*>', page).group(0)
    assert 'data-name="lenet-3ep"' in row and 'data-owner="alice"' in row and 'data-status="Waiting"' in row
    assert re.search(r'id="running-models"\s*>', page)    # shown, not hidden


def test_a_sweep_lands_on_the_models_tab_saying_how_many_were_made(site):
    dataset = _dataset(site.jobs_dir, status=Status.INIT)   # not Done: the network check waits for it
    site.start()
    token = re.search(r'name="csrf-token" content="([^"]+)"', _get(site.client, "/")).group(1)
    response = site.client.post("/models/images/classification", headers={   # as a browser's form post
        "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate", "X-CSRFToken": token, "Accept": "text/html"},
        data={"method": "standard", "standard_networks": "lenet", "framework": "caffe", "model_name": "sweep",
              "dataset": dataset.id, "train_epochs": "1", "learning_rate": "0.01,0.001", "batch_size": "8"})
    assert response.status_code == 302, response.data[:1000]
    assert response.headers["Location"].endswith("/#models")
    home = _get(site.client, "/")
    assert "2 models were created in group “sweep”." in home
    assert "models were created" not in _get(site.client, "/")   # said once


def test_login_links_carry_the_page_without_a_stray_question_mark(site):
    site.start()
    anonymous = site.app.test_client()
    response = anonymous.get("/models/images/classification/new")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login?next=/models/images/classification/new")
    response = anonymous.get("/models/images/classification/new?clone=x")
    assert response.headers["Location"].endswith("next=/models/images/classification/new?clone%3Dx")
    assert 'href="/login?next=/system"' in _get(anonymous, "/system")
    assert 'href="/login?next=/system%3Fa%3D1"' in _get(anonymous, "/system?a=1")
    assert 'id="login-link"' not in _get(anonymous, "/login?next=/system")


def test_explore_past_the_last_page_says_so_and_links_back(site):
    dataset = _dataset(site.jobs_dir, records=30)
    client = site.start().client
    base = f"/datasets/images/classification/explore?job_id={dataset.id}&db=train&size=25"
    page = _get(client, base + "&page=1")
    assert page.count("<figure") == 5 and "page 2 of 2" in page
    page = _get(client, base + "&page=7")
    assert "No images in this database page" not in page and "page 8 of 2" in page
    past = re.sub(r"\s+", " ", page[page.index('id="explore-past-end"'):])
    assert "There is no page 8: these images fill 2 pages of 25." in past
    assert re.search(r'href="[^"]*&page=1">Go to page 2 of 2</a>', past)
    assert re.search(r'href="[^"]*&page=1">Previous</a>', page)


def test_a_diverged_loss_is_a_gap_and_the_page_says_so(site):
    import math
    dataset = _dataset(site.jobs_dir)
    model = _model(site.jobs_dir, dataset, results=RESULTS)
    healthy = _model(site.jobs_dir, dataset, results=RESULTS, name="fine")
    model.train_task.metrics = {"train/loss": [[1, 0.5], [2, math.nan]]}
    model.save()
    healthy.train_task.metrics = {"train/loss": [[1, 0.5], [2, 0.4]]}
    healthy.save()
    client = site.start().client
    assert not re.search(r'id="chart-diverged"\s+hidden', _get(client, f"/models/{model.id}"))
    assert re.search(r'id="chart-diverged"\s+hidden', _get(client, f"/models/{healthy.id}"))


def test_new_menus_list_every_kind_with_a_form(site):
    page = _get(site.start().client, "/")
    assert 'id="new-datasets" ' in page or 'id="new-datasets">' in page   # the main button stays
    datasets = re.search(r'id="new-datasets-menu">(.*?)</ul>', page, re.S).group(1)
    models = re.search(r'id="new-models-menu">(.*?)</ul>', page, re.S).group(1)
    # (installed plugins come after the built-in kinds)
    assert re.findall(r'href="([^"]+)"', datasets)[:2] == ["/datasets/images/classification/new",
                                                           "/datasets/images/generic/new"]
    assert re.findall(r'href="([^"]+)"', models)[:2] == ["/models/images/classification/new",
                                                         "/models/images/generic/new"]
    for url in ("/datasets/images/generic/new", "/models/images/generic/new"):
        assert site.client.get(url).status_code == 200
