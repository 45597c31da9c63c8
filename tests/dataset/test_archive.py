"""Safe extraction of uploaded archives: traversal, links, size caps, content root."""
import io
import os
import tarfile
import zipfile

import pytest

from digits.dataset.archive import ArchiveError, check_archive, check_archive_opens, extract_archive


def _tar(path, members):
    """members: [(name, bytes | None for a folder | ("symlink", target))]."""
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            elif isinstance(data, tuple):
                info.type = tarfile.SYMTYPE if data[0] == "symlink" else tarfile.LNKTYPE
                info.linkname = data[1]
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return str(path)


def _zip(path, members):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return str(path)


@pytest.mark.parametrize("members,words", [
    ([("a/1.png", b"x"), ("../../escape.png", b"x")], "outside the archive"),
    ([("/etc/cron.d/x", b"x")], "absolute"),
    ([("a/link.png", ("symlink", "/etc/passwd"))], "link"),
    ([("a/hard.png", ("hardlink", "a/1.png"))], "link"),
])
def test_unsafe_tar_members_refused(tmp_path, members, words):
    path = _tar(tmp_path / "x.tar.gz", members)
    with pytest.raises(ArchiveError, match=words):
        extract_archive(path, str(tmp_path / "out"), max_bytes=1 << 20)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*"))
    assert not (tmp_path.parent / "escape.png").exists()


def test_size_and_count_caps(tmp_path):
    path = _zip(tmp_path / "big.zip", [(f"c{i % 2}/{i}.png", b"\0" * 1000) for i in range(10)])
    assert check_archive(path, max_bytes=10_000) == (10, 10_000)
    with pytest.raises(ArchiveError, match="limit of 9999"):
        check_archive(path, max_bytes=9_999)
    with pytest.raises(ArchiveError, match="more than the limit of 5"):
        check_archive(path, max_bytes=1 << 20, max_entries=5)
    # highly compressible content: the declared (uncompressed) size is what counts
    bomb = _zip(tmp_path / "bomb.zip", [("a/z.png", b"\0" * (5 << 20))])
    assert os.path.getsize(bomb) < 100_000
    with pytest.raises(ArchiveError, match="limit"):
        extract_archive(bomb, str(tmp_path / "out"), max_bytes=1 << 20)


def test_not_an_archive(tmp_path):
    path = tmp_path / "x.zip"
    path.write_bytes(b"definitely not a zip")
    for check in (lambda: check_archive(str(path), 1 << 20), lambda: check_archive_opens(str(path))):
        with pytest.raises(ArchiveError, match="not a readable") as caught:
            check()
        assert "ReadError" not in str(caught.value) and "method" not in str(caught.value)


@pytest.mark.parametrize("names,words", [
    (["1.png", "2.png", "3.png", "4.png"], "0 folder(s) with images and 4 image(s) outside any folder"),
    (["top/cats/1.png", "top/cats/2.png", "top/notes.txt"], "1 folder(s)"),
    (["cats/1.png", "dogs/readme.txt"], "1 folder(s)"),
    (["cats/1.png", ".hidden/1.png", "__MACOSX/dogs/1.png"], "1 folder(s)"),
])
def test_archive_without_class_folders_refused(tmp_path, names, words):
    path = _zip(tmp_path / "x.zip", [(name, b"x") for name in names])
    with pytest.raises(ArchiveError, match="at least two class folders") as info:
        check_archive(path, 1 << 20)
    assert words in str(info.value)


@pytest.mark.parametrize("names", [
    ["cats/1.png", "dogs/deep/er/1.jpg"],
    ["top/cats/1.png", "top/dogs/1.png"],
    ["top/", "top/cats/", "top/dogs/", "top/cats/a.PNG", "top/dogs/b.jpeg"],
])
def test_archive_class_folders_accepted(tmp_path, names):
    path = _zip(tmp_path / "x.zip", [(name, b"x") for name in names])
    check_archive(path, 1 << 20)


def test_extract_returns_single_top_folder(tmp_path):
    path = _tar(tmp_path / "x.tar.gz", [("top", None), ("top/cats/1.png", b"a"), ("top/dogs/1.png", b"b"),
                                         ("./top/dogs/2.png", b"c")])
    root = extract_archive(path, str(tmp_path / "out"), max_bytes=1 << 20)
    assert root == os.path.realpath(str(tmp_path / "out" / "top"))
    assert sorted(os.listdir(root)) == ["cats", "dogs"]
    assert open(os.path.join(root, "dogs", "2.png"), "rb").read() == b"c"
    flat = _zip(tmp_path / "flat.zip", [("cats/1.png", b"a"), ("dogs/1.png", b"b"), ("__MACOSX/._x", b"")])
    root = extract_archive(flat, str(tmp_path / "flat"), max_bytes=1 << 20)
    assert root == os.path.realpath(str(tmp_path / "flat")) and sorted(os.listdir(root)) == ["cats", "dogs"]


def test_parse_task_reports_unsafe_tar(tmp_path, ds):
    """Big tars are only checked by the parse task: the error must still be clear, nothing extracted."""
    path = _tar(tmp_path / "x.tar.gz", [("a/1.png", b"x"), ("../evil.png", b"x")])
    job = tmp_path / "job"
    job.mkdir()
    code, messages, _, _ = ds.run_tool("parse_folder", "--job-dir", job, "--folder", job / "images",
                                       "--archive", path, check=False)
    assert code != 0
    assert "outside the archive" in ds.of_type(messages, "error")[0]["message"]
    assert not (tmp_path / "evil.png").exists() and not (job / "labels.txt").exists()


def test_create_db_clears_temp_dirs_of_killed_runs(tmp_path, ds):
    job = tmp_path / "job"
    (job / ".train_db.tmp-99999").mkdir(parents=True)
    ds.save(ds.class_image("circle", 0), str(tmp_path / "a.png"))
    (job / "labels.txt").write_text("a\nb\n")
    (job / "train.txt").write_text(f"{tmp_path}/a.png 0\n")
    ds.run_tool("create_db", "--job-dir", job, "--split", "train", "--height", 4, "--width", 4, "--workers", 1)
    assert sorted(p.name for p in job.iterdir() if p.name.startswith(".train_db")) == []


def test_parse_failure_on_archive_names_the_upload_and_removes_the_extracted_copy(tmp_path, ds):
    # two class folders (so the listing check passes) of one image each: too few for the minimum of 2
    png = (tmp_path / "a.png")
    ds.save(ds.class_image("circle", 0), str(png))
    path = _tar(tmp_path / "x.tar.gz", [("cats/1.png", png.read_bytes()), ("dogs/1.png", png.read_bytes())])
    job = tmp_path / "job"
    job.mkdir()
    code, messages, _, _ = ds.run_tool("parse_folder", "--job-dir", job, "--folder", job / "images",
                                       "--archive", path, check=False)
    assert code != 0
    message = ds.of_type(messages, "error")[0]["message"]
    assert "the uploaded archive has fewer than two classes" in message and str(job) not in message
    assert not (job / "images").exists() and not (job / "labels.txt").exists()
    assert os.path.exists(path)  # the upload stays: the job can be resumed
    progress = [m["value"] for m in ds.of_type(messages, "progress")]
    assert progress and max(progress) >= 0.2  # extraction reported its share
