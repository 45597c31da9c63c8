"""A full jobs disk: requests that must write answer 507 and change nothing (in memory, on disk, after a
restart); the scheduler's own saves fail without stopping it; create_db ends saying the disk is full."""
import io
import json
import os
import subprocess
import sys
import tarfile

import numpy as np
import PIL.Image
import pytest

from digits.job import Job
from digits.scheduler import Scheduler
from digits.status import Status
from digits.task import Task
from tests.helpers import ROOT, login, wait_for

DATASET_URL = "/datasets/images/classification.json"

FILLER = "filler.bin"


class SmallDisk:
    """The jobs dir on a tmpfs of its own, filled up and freed on demand."""

    def __init__(self, path):
        self.path = path

    def fill(self, leave=0):
        """Fills the disk up to `leave` bytes free."""
        left = os.statvfs(self.path).f_bavail * os.statvfs(self.path).f_frsize - leave
        fd = os.open(os.path.join(self.path, FILLER), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            while left > 0 or not leave:
                left -= os.write(fd, b"\0" * min(1 << 20, left if leave else 1 << 20))
        except OSError as exc:   # full: the last write was partial, this one failed
            assert exc.errno == 28 and not leave, exc
        finally:
            os.close(fd)

    def free(self):
        os.remove(os.path.join(self.path, FILLER))

    def listing(self):
        return sorted(n for n in os.listdir(self.path) if n != FILLER)


@pytest.fixture
def disk(jobs_dir):
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", jobs_dir],
                              capture_output=True, text=True)
    except OSError as exc:
        pytest.skip(f"cannot run mount: {exc}")
    if done.returncode:
        pytest.skip(f"cannot mount a small tmpfs for the jobs dir (needs root): {done.stderr.strip()}")
    try:
        yield SmallDisk(jobs_dir)
    finally:
        if subprocess.run(["umount", jobs_dir], capture_output=True).returncode:
            subprocess.run(["umount", "-l", jobs_dir], capture_output=True)   # a straggler still has files open


def _images(root, per_class=4, size=8):
    """root/<class>/<i>.png: two classes of grayscale noise (it does not compress), outside the jobs disk."""
    rng = np.random.default_rng(0)
    for label in range(2):
        os.makedirs(os.path.join(root, str(label)))
        for i in range(per_class):
            pixels = rng.integers(0, 256, (size, size), dtype=np.uint8)
            PIL.Image.fromarray(pixels).save(os.path.join(root, str(label), f"{i}.png"))
    return root


def _dataset_fields(images, name="tiny"):
    return {"folder_train": images, "resize_channels": "1", "resize_width": "8", "resize_height": "8",
            "method": "folder", "dataset_name": name, "encoding": "png"}


def _names(client):
    data = client.get("/index.json").get_json()
    return sorted(j["name"] for cat in ("datasets", "models", "pretrained_models", "jobs") for j in data[cat])


def _assert_full_disk_reply(response):
    assert response.status_code == 507, response.data
    error = response.get_json()["error"]
    assert error["type"] == "InsufficientStorage"
    assert error["message"].startswith("the jobs disk is full (0.0 MB free)"), error["message"]


def test_rename_on_a_full_disk_is_507_and_keeps_the_old_name(disk, make_app):
    old = Job(disk.path, "old name", "alice")
    old.save()
    app = make_app(start_scheduler=False)
    client = login(app.test_client())
    disk.fill()
    response = client.put(f"/jobs/{old.id}.json", data={"job_name": "new name", "job_notes": "lost?"})
    _assert_full_disk_reply(response)
    assert _names(client) == ["old name"]
    assert client.get(f"/jobs/{old.id}.json").get_json()["notes"] == ""
    disk.free()
    restarted = login(make_app(start_scheduler=False).test_client())
    assert _names(restarted) == ["old name"]
    # with room again the rename works and lasts
    assert client.put(f"/jobs/{old.id}.json", data={"job_name": "new name"}).status_code == 200
    assert _names(login(make_app(start_scheduler=False).test_client())) == ["new name"]


def _dataset_create(client, images):
    return lambda: client.post(DATASET_URL, data=_dataset_fields(images, "lost"))


def _model_create(client, images):
    dataset = client.post(DATASET_URL, data=_dataset_fields(images)).get_json()["id"]   # stays Waiting
    return lambda: client.post("/models/images/classification.json", data={
        "method": "standard", "standard_networks": "lenet", "framework": "caffe", "train_epochs": "1",
        "model_name": "lost", "dataset": dataset})


def _archive():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (("network.py", b"def build(input_shape, num_classes):\n    raise SystemExit\n"),
                           ("weights.pt", b"\0" * 4096), ("labels.txt", b"zero\none\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _pretrained_create(client, images):
    archive = _archive()
    return lambda: client.post("/pretrained_models/upload_archive.json", data={
        "archive": (io.BytesIO(archive), "lost.tar.gz"), "job_name": "lost", "image_type": "1",
        "width": "8", "height": "8"}, content_type="multipart/form-data")


@pytest.mark.parametrize("prepare", [_dataset_create, _model_create, _pretrained_create],
                         ids=["dataset", "model", "pretrained-archive"])
def test_create_on_a_full_disk_is_507_and_leaves_nothing(disk, make_app, tmp_path, monkeypatch, prepare):
    app = make_app(start_scheduler=False)
    client = login(app.test_client())
    sched = app.extensions["digits"]["scheduler"]
    create = prepare(client, _images(str(tmp_path / "images")))
    before, jobs_before = disk.listing(), set(sched.jobs)
    events = []
    monkeypatch.setattr(sched.emitter, "job_update", lambda job, update, **data: events.append(update))
    disk.fill()
    _assert_full_disk_reply(create())
    assert disk.listing() == before, "the failed create left files in the jobs dir"
    assert set(sched.jobs) == jobs_before and events == []
    assert "lost" not in _names(client)
    disk.free()
    assert "lost" not in _names(login(make_app(start_scheduler=False).test_client()))


def test_a_browser_gets_the_full_disk_as_a_page(disk, make_app, tmp_path):
    client = login(make_app(start_scheduler=False).test_client())
    images = _images(str(tmp_path / "images"))
    disk.fill()
    response = client.post("/datasets/images/classification", data=_dataset_fields(images),
                           headers={"Sec-Fetch-Mode": "navigate", "Accept": "text/html"})
    assert response.status_code == 507 and response.mimetype == "text/html"
    assert "the jobs disk is full" in response.get_data(as_text=True)
    assert disk.listing() == []


TOOL = """import json
for step in range(1, 6):
    print(json.dumps({"type": "progress", "value": step / 5}), flush=True)
"""


def test_scheduler_saves_on_a_full_disk_are_logged_and_jobs_still_finish(disk, tmp_path, caplog):
    tool = tmp_path / "tool.py"
    tool.write_text(TOOL)
    sched = Scheduler({"jobs_dir": disk.path, "abort_grace_seconds": 1.0, "cpu_train_slots": 1}, gpus=[])

    def job(name):
        made = Job(disk.path, name, "alice")
        made.tasks.append(Task("step", str(tool), [], {"create_db": 1}))
        return made

    first = job("first")
    sched.add_job(first)
    disk.fill()
    sched.start()
    try:
        wait_for(lambda: first.status == Status.DONE, timeout=30, message="the job to finish on a full disk")
        with open(first.path("job.json")) as f:
            assert json.load(f)["status_history"][-1][0] == Status.WAIT   # the last save that worked
        assert "could not save job.json" in caplog.text
        disk.free()
        second = job("second")
        sched.add_job(second)   # the loop is alive and the pool was given back
        wait_for(lambda: second.status == Status.DONE, timeout=30, message="a later job to run")
    finally:
        sched.stop()


def _tool(name, *args):
    done = subprocess.run([sys.executable, "-m", f"digits.tools.{name}", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


# Full from the start (LMDB's lock file gets no room), or filling up while the images go in (LMDB's
# commit fails with "Input/output error").
@pytest.mark.parametrize("leave", [0, 128 << 10], ids=["full", "fills-up"])
def test_create_db_on_a_full_disk_ends_saying_so(disk, tmp_path, leave):
    job_dir = os.path.join(disk.path, "dataset")
    os.makedirs(job_dir)
    images = _images(str(tmp_path / "images"), per_class=30, size=64)
    assert _tool("parse_folder", "--job-dir", job_dir, "--folder", images, "--pct-val", 10,
                 "--allowed-root", str(tmp_path))[0] == 0
    disk.fill(leave)
    code, messages = _tool("create_db", "--job-dir", job_dir, "--split", "train", "--height", 64, "--width", 64,
                           "--channels", 1, "--workers", 1)
    assert code == 1
    errors = [m["message"] for m in messages if m["type"] == "error"]
    assert errors and errors[0].startswith(f"the disk is full ("), errors
    assert f" MB free in {job_dir})" in errors[0], errors
    assert not [n for n in os.listdir(job_dir) if "train_db" in n], "a partial database was left behind"
