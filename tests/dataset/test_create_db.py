"""create_db tool: LMDB of Datums, skipped-file report, dataset.json, mean, abort."""
import json
import os
import signal
import subprocess
import sys
import time

import lmdb
import numpy as np
import pytest

from digits.dataset.files import read_list
from digits.dataset.reader import LmdbDataset, load_mean, read_dataset_info
from digits.proto import caffe_pb2
from digits.utils.image import load_image, to_array


def _datum(db_dir, index):
    env = lmdb.open(str(db_dir), readonly=True, lock=False)
    try:
        with env.begin() as txn:
            datum = caffe_pb2.Datum()
            datum.ParseFromString(txn.get(b"%08d" % index))
            return datum
    finally:
        env.close()


def test_folder_to_png_db_with_corrupt_files(build_dataset, image_tree):
    job = build_dataset(image_tree, height=12, width=16, encoding="png")
    info = json.loads((job / "dataset.json").read_text())
    assert info["image_dims"] == [12, 16, 3] and info["encoding"] == "png"
    assert info["num_classes"] == 3 and info["resize_mode"] == "squash"
    assert info["mean_file"] == "mean.binaryproto"
    splits = info["splits"]
    # 22 readable images: 8 circle + 8 square + 6 stripe; 3 corrupt circle files skipped
    assert splits["train"]["count"] + splits["val"]["count"] == 22
    per_class = np.add(splits["train"]["per_class"], splits["val"]["per_class"]).tolist()
    assert per_class == [8, 8, 6]
    skipped = {os.path.basename(e["path"]): e["reason"] for e in info["skipped"]}
    assert set(skipped) == {"truncated.png", "notes.jpg", "empty.png"}
    assert "truncated" in skipped["truncated.png"] and "empty" in skipped["empty.png"]
    assert "not an image" in skipped["notes.jpg"]
    # parse_folder found them: listed with no split, and the DBs' own lists never saw them
    assert {e["split"] for e in info["skipped"]} == {None}
    split_skips = [json.loads((job / f"{s}_skipped.json").read_text()) for s in ("train", "val")]
    assert sum(len(s) for s in split_skips) == 0
    # lists now hold exactly what was written, in key order
    for split in ("train", "val"):
        items = read_list(str(job / f"{split}.txt"))
        assert len(items) == splits[split]["count"]
        datum = _datum(job / f"{split}_db", len(items) - 1)
        assert datum.encoded and datum.label == items[-1][1]
        assert (datum.channels, datum.height, datum.width) == (3, 12, 16)
        assert datum.data[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("encoding", ["png", "none"])
def test_reader_round_trip_is_pixel_exact(build_dataset, image_tree, encoding):
    # 12×16 sources into a 12×16 DB: no resampling, so pixels must survive exactly.
    job = build_dataset(image_tree, height=12, width=16, encoding=encoding)
    items = read_list(str(job / "train.txt"))
    dataset = LmdbDataset(str(job / "train_db"))
    assert len(dataset) == len(items)
    for index in (0, len(items) - 1):
        tensor, label = dataset[index]
        expected = to_array(load_image(items[index][0]), 3).transpose(2, 0, 1)
        assert label == items[index][1]
        assert tensor.dtype.is_floating_point is False and tuple(tensor.shape) == (3, 12, 16)
        assert np.array_equal(tensor.numpy(), expected)  # RGB order out


def test_raw_records_are_bgr_chw(build_dataset, image_tree):
    job = build_dataset(image_tree, height=12, width=16, encoding="none")
    items = read_list(str(job / "train.txt"))
    datum = _datum(job / "train_db", 0)
    assert not datum.encoded
    chw = np.frombuffer(datum.data, np.uint8).reshape(3, 12, 16)
    rgb = to_array(load_image(items[0][0]), 3)
    assert np.array_equal(chw[0], rgb[:, :, 2]) and np.array_equal(chw[2], rgb[:, :, 0])


def test_grayscale_jpg_db_and_mean(build_dataset, image_tree, ds):
    job = build_dataset(image_tree, height=6, width=8, channels=1, encoding="jpg", resize_mode="crop")
    dataset = LmdbDataset(str(job / "train_db"))
    tensor, label = dataset[0]
    assert tuple(tensor.shape) == (1, 6, 8)
    # class colours differ in luma; a decoded jpg stays close to its class's gray level
    gray = {k: 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] for k, c in enumerate(ds.CLASS_COLORS.values())}
    assert abs(float(np.median(tensor.numpy())) - gray[label]) < 12
    mean = load_mean(str(job / "mean.binaryproto"))
    assert mean.shape == (1, 6, 8) and mean.dtype == np.float32
    stack = np.stack([dataset.read(i)[0] for i in range(len(dataset))]).astype(np.float64)
    # the mean is taken before encoding, so allow the jpg error only
    assert np.abs(stack.mean(axis=0) - mean).max() < 6
    assert read_dataset_info(str(job))["image_dims"] == [6, 8, 1]


def test_mean_file_is_exact_bgr_blob(build_dataset, image_tree):
    job = build_dataset(image_tree, height=12, width=16, encoding="none")
    dataset = LmdbDataset(str(job / "train_db"))
    stack = np.stack([dataset.read(i)[0] for i in range(len(dataset))]).astype(np.float64)
    mean = load_mean(str(job / "mean.binaryproto"))
    assert np.allclose(mean, stack.mean(axis=0), atol=1e-3)
    blob = caffe_pb2.BlobProto()
    blob.ParseFromString((job / "mean.binaryproto").read_bytes())
    assert list(blob.shape.dim) == [1, 3, 12, 16] and (blob.num, blob.channels) == (1, 3)
    raw = np.asarray(blob.data, np.float32).reshape(3, 12, 16)
    assert np.allclose(raw[0], mean[2])  # stored BGR
    assert (job / "mean.jpg").read_bytes()[:2] == b"\xff\xd8"


def test_fill_db_identical_with_one_or_all_workers(build_dataset, image_tree):
    digests = []
    for workers in (1, 2):
        job = build_dataset(image_tree, splits=("train",), height=20, width=10, resize_mode="fill",
                            encoding="none", workers=workers)
        dataset = LmdbDataset(str(job / "train_db"))
        digests.append([dataset.read(i)[0].tobytes() for i in range(len(dataset))])
        os.rename(job, str(job) + f"-w{workers}")
    assert digests[0] == digests[1]


def test_missing_files_are_skipped_not_fatal(tmp_path, ds):
    job = tmp_path / "job"
    job.mkdir()
    ds.save(ds.class_image("circle", 0), str(tmp_path / "ok.png"))
    (job / "labels.txt").write_text("a\nb\n")
    (job / "train.txt").write_text(f"{tmp_path}/ok.png 0\n{tmp_path}/gone.png 1\n")
    _, messages, _, _ = ds.run_tool("create_db", "--job-dir", job, "--split", "train", "--height", 4,
                                    "--width", 4, "--workers", 1)
    info = json.loads((job / "dataset.json").read_text())
    assert info["splits"]["train"]["count"] == 1 and info["splits"]["train"]["per_class"] == [1, 0]
    assert info["skipped"] == [{"path": f"{tmp_path}/gone.png", "reason": "file not found", "split": "train"}]
    assert any("gone.png" in m["message"] for m in ds.of_type(messages, "warning"))
    progress = ds.of_type(messages, "progress")
    assert progress[-1]["value"] == 1.0


def _truncated_jpeg(ds, path):
    """Passes a header check (parse_folder's), fails to decode (create_db)."""
    ds.save(np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8), str(path), "JPEG")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


def test_class_emptied_by_skipped_files_is_named_in_a_warning(tmp_path, ds):
    job = tmp_path / "job"
    job.mkdir()
    good = [ds.save(ds.class_image("circle", i), str(tmp_path / f"ok{i}.png")) for i in range(3)]
    bad = [str(_truncated_jpeg(ds, tmp_path / f"bad{i}.jpg")) for i in range(2)]
    (job / "labels.txt").write_text("circle\nsquare\nstripe\n")
    lines = [(good[0], 0), (good[1], 0), (good[2], 1), (bad[0], 2), (bad[1], 1)]
    (job / "train.txt").write_text("".join(f"{p} {k}\n" for p, k in lines))
    (job / "parse_skipped.json").write_text(json.dumps([{"path": "/src/x.png", "reason": "empty file"}]))
    _, messages, _, _ = ds.run_tool("create_db", "--job-dir", job, "--split", "train", "--height", 4,
                                    "--width", 4, "--workers", 1, "--min-per-class", 2)
    warnings = [m["message"] for m in ds.of_type(messages, "warning")]
    assert any('fewer than 2 training image(s)' in w and '"stripe" (0)' in w and '"square" (1)' in w
               and "circle" not in w for w in warnings), warnings
    info = json.loads((job / "dataset.json").read_text())
    assert info["splits"]["train"]["per_class"] == [2, 1, 0]
    assert info["splits"]["train"]["classes_below_minimum"] == [
        {"label": 1, "name": "square", "count": 1}, {"label": 2, "name": "stripe", "count": 0}]
    assert {(os.path.basename(e["path"]), e["split"]) for e in info["skipped"]} == {
        ("x.png", None), ("bad0.jpg", "train"), ("bad1.jpg", "train")}


def test_no_readable_image_is_an_error(tmp_path, ds):
    job = tmp_path / "job"
    job.mkdir()
    (job / "labels.txt").write_text("a\nb\n")
    (job / "train.txt").write_text(f"{tmp_path}/gone.png 0\n")
    code, messages, _, _ = ds.run_tool("create_db", "--job-dir", job, "--split", "train", check=False)
    assert code != 0 and "could be read" in ds.of_type(messages, "error")[0]["message"]
    assert not (job / "dataset.json").exists() and not (job / "train_db").exists()


def test_sigterm_aborts_cleanly(tmp_path, ds):
    # enough large images that the run is still going when the signal arrives
    src = tmp_path / "big.png"
    ds.save(np.random.default_rng(0).integers(0, 255, (600, 800, 3), dtype=np.uint8), str(src))
    job = tmp_path / "job"
    job.mkdir()
    (job / "labels.txt").write_text("a\nb\n")
    (job / "train.txt").write_text("".join(f"{src} {i % 2}\n" for i in range(1500)))
    proc = subprocess.Popen([sys.executable, "-m", "digits.tools.create_db", "--job-dir", str(job),
                             "--split", "train", "--height", "64", "--width", "64"],
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # wait for the first progress line: the pool is running
    line = proc.stdout.readline()
    assert '"progress"' in line, line + proc.stderr.read()
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr.read()  # our abort path, not a crash
    assert time.monotonic() - start < 10
    leftovers = sorted(os.listdir(job))
    assert leftovers == ["labels.txt", "train.txt"], leftovers  # no DB, no dataset.json, no temp dir
