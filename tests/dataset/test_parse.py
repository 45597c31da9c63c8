"""parse_folder / parse_textfile tools: labels, splits, determinism, bad input."""
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
    # circle: 8 good + truncated + notes.jpg + empty.png = 11 files → 8 train / 3 val (25 % rounded);
    # stripe: 6 → 75 % is 4.5, rounded up like DIGITS → 5 train / 1 val
    per_split = {s: [sum(1 for _, lab in items if lab == k) for k in range(3)] for s, items in lists.items()}
    assert per_split["train"] == [8, 6, 5] and per_split["val"] == [3, 2, 1]
    assert not any(p.endswith(".txt") for items in lists.values() for p, _ in items)
    result = ds.result_of(messages)
    assert result["num_classes"] == 3 and result["splits"]["val"]["count"] == 6 and result["seed"] == 7


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
