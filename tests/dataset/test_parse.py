"""parse_folder / parse_textfile tools: labels, splits, determinism, bad input."""
import json
import os

import pytest

from digits.dataset.files import read_labels, read_list
from digits.dataset.parse import three_way_split


def _lists(job):
    return {s: read_list(str(job / f"{s}.txt")) for s in ("train", "val", "test")
            if (job / f"{s}.txt").exists()}


def test_folder_labels_splits_and_min_per_class(tmp_path, ds, image_tree):
    job = tmp_path / "job"
    job.mkdir()
    _, messages, _, _ = ds.run_tool("parse_folder", "--job-dir", job, "--folder", image_tree, "--seed", 7)
    assert read_labels(str(job / "labels.txt")) == ["circle", "square", "stripe"]  # sorted, lonely dropped
    warnings = " ".join(m["message"] for m in ds.of_type(messages, "warning"))
    assert "lonely" in warnings and "dropped" in warnings
    lists = _lists(job)
    assert set(lists) == {"train", "val"}
    # circle: 8 good + truncated + notes.jpg + empty.png: the 3 bad files are left out before the split,
    # so 8 → 6 train / 2 val; stripe: 6 → 75 % is 4.5, rounded up like DIGITS → 5 train / 1 val
    per_split = {s: [sum(1 for _, lab in items if lab == k) for k in range(3)] for s, items in lists.items()}
    assert per_split["train"] == [6, 6, 5] and per_split["val"] == [2, 2, 1]
    assert not any(p.endswith(".txt") for items in lists.values() for p, _ in items)
    result = ds.result_of(messages)
    assert result["num_classes"] == 3 and result["splits"]["val"]["count"] == 5 and result["seed"] == 7
    skipped = {os.path.basename(e["path"]): e["reason"] for e in json.loads((job / "parse_skipped.json").read_text())}
    assert set(skipped) == {"truncated.png", "notes.jpg", "empty.png"} and result["parse_skipped"] == 3
    assert "truncated" in skipped["truncated.png"] and "empty" in skipped["empty.png"]
    assert "not an image" in skipped["notes.jpg"]


@pytest.mark.parametrize("workers", [1, 2])
def test_class_of_only_corrupt_files_is_dropped_before_labels(tmp_path, ds, workers):
    root = tmp_path / "imgs"
    for k in range(3):
        for i in range(6):
            ds.save(ds.class_image(ds.CLASSES[k], i), str(root / f"c{k}" / f"{i}.png"))
    for i in range(3):
        (root / "zbad" / f"{i}.png").parent.mkdir(exist_ok=True)
        (root / "zbad" / f"{i}.png").write_bytes(b"garbage")
    job = tmp_path / "job"
    job.mkdir()
    # by default a pool is used from 256 files on; --workers 2 runs one on these few files too
    _, messages, _, _ = ds.run_tool("parse_folder", "--job-dir", job, "--folder", root, "--seed", 1,
                                    "--workers", workers)
    assert read_labels(str(job / "labels.txt")) == ["c0", "c1", "c2"]
    warnings = [m["message"] for m in ds.of_type(messages, "warning")]
    assert any('"zbad" has 0 readable image(s)' in w and "dropped" in w for w in warnings), warnings
    skipped = json.loads((job / "parse_skipped.json").read_text())
    assert [os.path.basename(e["path"]) for e in skipped] == ["0.png", "1.png", "2.png"]
    assert all("not an image" in e["reason"] for e in skipped)


def test_folder_split_is_deterministic_per_seed(tmp_path, ds, image_tree):
    outputs = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        job = tmp_path / name
        job.mkdir()
        ds.run_tool("parse_folder", "--job-dir", job, "--folder", image_tree, "--seed", seed,
                    "--pct-val", 25, "--pct-test", 25)
        outputs.append(_lists(job))
    assert outputs[0] == outputs[1]
    assert outputs[0] != outputs[2]
    assert len(outputs[0]["test"]) > 0
    train = {p for p, _ in outputs[0]["train"]}
    assert not train & {p for p, _ in outputs[0]["val"]}  # no image in two splits


def test_folder_max_per_class_and_separate_val_folder(tmp_path, ds, image_tree):
    val_root = tmp_path / "valimgs"
    for name in ("circle", "square"):
        for i in range(3):
            ds.save(ds.class_image(name, i), str(val_root / name / f"v{i}.png"))
    ds.save(ds.class_image("circle", 0), str(val_root / "unknown_class" / "x.png"))
    ds.save(ds.class_image("circle", 0), str(val_root / "unknown_class" / "y.png"))
    job = tmp_path / "job"
    job.mkdir()
    _, messages, _, _ = ds.run_tool("parse_folder", "--job-dir", job, "--folder", image_tree,
                                    "--max-per-class", 5, "--val-folder", val_root, "--seed", 1)
    lists = _lists(job)
    assert len(lists["train"]) == 15  # 5 per class, no share taken for validation
    assert sorted(lab for _, lab in lists["val"]) == [0, 0, 0, 1, 1, 1]
    assert any("unknown class" in m["message"] for m in ds.of_type(messages, "warning"))


def test_folder_separate_test_folder(tmp_path, ds, image_tree):
    test_root = tmp_path / "testimgs"
    for name in ("square", "stripe"):
        for i in range(2):
            ds.save(ds.class_image(name, i), str(test_root / name / f"t{i}.png"))
    (test_root / "square" / "broken.png").write_bytes(b"garbage")
    job = tmp_path / "job"
    job.mkdir()
    _, messages, _, _ = ds.run_tool("parse_folder", "--job-dir", job, "--folder", image_tree, "--seed", 2,
                                    "--pct-val", 0, "--pct-test", 30, "--test-folder", test_root)
    lists = _lists(job)
    assert set(lists) == {"train", "test"}  # --pct-test is ignored: the folder is the test split
    assert len(lists["train"]) == 8 + 8 + 6
    assert sorted((os.path.basename(p), lab) for p, lab in lists["test"]) == [
        ("t0.png", 1), ("t0.png", 2), ("t1.png", 1), ("t1.png", 2)]
    skipped = json.loads((job / "parse_skipped.json").read_text())
    assert [os.path.basename(e["path"]) for e in skipped] == ["empty.png", "notes.jpg", "truncated.png", "broken.png"]
    assert ds.result_of(messages)["splits"]["test"]["per_class"] == [0, 2, 2]


@pytest.mark.parametrize("problem,expected", [
    ("missing", "does not exist"),
    ("one_class", "at least two class"),
])
def test_folder_errors(tmp_path, ds, problem, expected):
    folder = tmp_path / "src"
    if problem == "one_class":
        for i in range(3):
            ds.save(ds.class_image("circle", i), str(folder / "circle" / f"{i}.png"))
    job = tmp_path / "job"
    job.mkdir()
    code, messages, _, _ = ds.run_tool("parse_folder", "--job-dir", job, "--folder", folder, check=False)
    assert code != 0
    assert expected in ds.of_type(messages, "error")[0]["message"]
    assert not (job / "labels.txt").exists()


def test_three_way_split_rules():
    assert three_way_split(10, 25, 0) == (8, 10)
    assert three_way_split(2, 25, 0) == (1, 2)  # validation asked for → gets one
    assert three_way_split(3, 25, 25) == (1, 2)
    assert three_way_split(5, 0, 0) == (5, 5)
    assert three_way_split(5, 100, 0) == (0, 5)


def test_three_way_split_rounds_half_up_like_digits():
    # DIGITS ran on Python 2, whose round(8.5) is 9; Python 3's banker's rounding gives 8.
    assert three_way_split(10, 15, 0) == (9, 10)
    assert three_way_split(30, 25, 0) == (23, 30)  # 22.5 → 23, like DIGITS


def _write_textfile_inputs(tmp_path, ds):
    base = tmp_path / "base"
    for name in ds.CLASSES:
        for i in range(3):
            ds.save(ds.class_image(name, i), str(base / name / f"{i}.png"))
    (tmp_path / "labels.txt").write_text("circle\nsquare\nstripe\n")
    (tmp_path / "train.list").write_text("".join(f"{n}/{i}.png {k}\n" for k, n in enumerate(ds.CLASSES)
                                                 for i in range(2)))
    (tmp_path / "val.list").write_text(f"{base}/circle/2.png 0\n\n{base}/square/2.png 1\n")
    return base


def test_textfile_lists(tmp_path, ds):
    base = _write_textfile_inputs(tmp_path, ds)
    job = tmp_path / "job"
    job.mkdir()
    ds.run_tool("parse_textfile", "--job-dir", job, "--labels-file", tmp_path / "labels.txt",
                "--train-list", tmp_path / "train.list", "--train-folder", base,
                "--val-list", tmp_path / "val.list")
    lists = _lists(job)
    assert lists["train"][0] == (str(base / "circle" / "0.png"), 0)  # base joined, order kept
    assert [lab for _, lab in lists["train"]] == [0, 0, 1, 1, 2, 2]
    assert lists["val"] == [(str(base / "circle" / "2.png"), 0), (str(base / "square" / "2.png"), 1)]
    assert read_labels(str(job / "labels.txt")) == list(ds.CLASSES)


def test_textfile_shuffle_is_seeded(tmp_path, ds):
    base = _write_textfile_inputs(tmp_path, ds)
    orders = []
    for name, seed in (("a", 1), ("b", 1)):
        job = tmp_path / name
        job.mkdir()
        ds.run_tool("parse_textfile", "--job-dir", job, "--labels-file", tmp_path / "labels.txt",
                    "--train-list", tmp_path / "train.list", "--train-folder", base, "--shuffle",
                    "--seed", seed)
        orders.append(_lists(job)["train"])
    assert orders[0] == orders[1] and len(orders[0]) == 6
    job = tmp_path / "unshuffled"
    job.mkdir()
    ds.run_tool("parse_textfile", "--job-dir", job, "--labels-file", tmp_path / "labels.txt",
                "--train-list", tmp_path / "train.list", "--train-folder", base, "--seed", 1)
    unshuffled = _lists(job)["train"]
    assert [lab for _, lab in unshuffled] == [0, 0, 1, 1, 2, 2]  # the list's own order
    assert orders[0] != unshuffled and sorted(orders[0]) == sorted(unshuffled)


@pytest.mark.parametrize("content,expected", [
    ("a.png 0\nb.png\n", "line 2: expected"),
    ("a.png 0\n\nb.png 3\n", "line 3: unknown label 3"),
    ("a.png -1\n", "line 1: unknown label -1"),
])
def test_textfile_bad_lines(tmp_path, ds, content, expected):
    _write_textfile_inputs(tmp_path, ds)
    (tmp_path / "bad.list").write_text(content)
    job = tmp_path / "job"
    job.mkdir()
    code, messages, _, _ = ds.run_tool("parse_textfile", "--job-dir", job, "--labels-file",
                                       tmp_path / "labels.txt", "--train-list", tmp_path / "bad.list",
                                       check=False)
    assert code != 0
    message = ds.of_type(messages, "error")[0]["message"]
    assert expected in message and "bad.list" in message
    assert not (job / "train.txt").exists()


def test_parse_reports_progress_while_walking_and_checking(tmp_path, ds, image_tree):
    job = tmp_path / "job"
    job.mkdir()
    _, messages, _, _ = ds.run_tool("parse_folder", "--job-dir", job, "--folder", image_tree, "--seed", 1)
    progress = ds.of_type(messages, "progress")
    values = [m["value"] for m in progress]
    assert values == sorted(values) and values[-1] == 1.0
    inner = {v for v in values if 0 < v < 1}
    assert len(inner) >= 3, values  # the walk (per class folder) and the check (per file chunk) both report
    assert any(m.get("total") == 4 for m in progress)  # 4 class folders walked
    assert any(m.get("total") == 26 for m in progress)  # 26 image-named files checked


def test_check_progress_counts_every_file_and_honours_the_cap(tmp_path, ds):
    from digits.dataset.check import check_images
    from digits.dataset.parse import keep_readable

    paths = [ds.save(ds.class_image("circle", i), str(tmp_path / f"{i}.png")) for i in range(6)]
    (tmp_path / "bad.png").write_bytes(b"x")
    classes = [("a", [str(tmp_path / "bad.png")] + paths[:3]), ("b", paths[3:])]
    calls = []
    kept, skipped = keep_readable(classes, check_images, max_per_class=2,
                                  on_progress=lambda done, total: calls.append((done, total)))
    assert kept == [("a", paths[:2]), ("b", paths[3:5])]  # the bad file replaced by the next one
    assert skipped == [{"path": str(tmp_path / "bad.png"), "reason": "not an image file (unrecognized format)"}]
    assert [d for d, _ in calls] == sorted(d for d, _ in calls) and calls[-1] == (4, 4)
    assert len(calls) >= 2
