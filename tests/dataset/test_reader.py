"""Reader API: LmdbDataset with DataLoader workers, Explore pages, dataset info, bad input."""
import io

import numpy as np
import PIL.Image
import pytest
import torch

from digits.dataset.files import read_list
from digits.dataset.reader import LmdbDataset, load_mean, read_dataset_info, read_records


@pytest.fixture
def job(build_dataset, image_tree):
    return build_dataset(image_tree, height=12, width=16, encoding="none")


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_dataloader_workers(job, context):
    dataset = LmdbDataset(str(job / "train_db"))
    dataset[0]  # the parent has the environment open before workers start
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, num_workers=2,
                                         multiprocessing_context=context)
    batches = list(loader)
    labels = torch.cat([batch_labels for _, batch_labels in batches]).tolist()
    assert labels == [label for _, label in read_list(str(job / "train.txt"))]
    images = torch.cat([x for x, _ in batches])
    assert images.shape == (len(dataset), 3, 12, 16) and images.dtype == torch.uint8
    assert torch.equal(images[0], dataset[0][0])


def test_index_out_of_range(job):
    dataset = LmdbDataset(str(job / "train_db"))
    with pytest.raises(IndexError):
        dataset.read(len(dataset))


def test_explore_pages_and_label_filter(job):
    db = str(job / "train_db")
    items = read_list(str(job / "train.txt"))
    total, page = read_records(db, 0, 5)
    assert total == len(items) and [k for k, _, _ in page] == ["00000000", "00000001", "00000002",
                                                                "00000003", "00000004"]
    total, last = read_records(db, 15, 5)
    assert len(last) == total - 15
    wanted = [i for i, (_, label) in enumerate(items) if label == 2]
    total, page = read_records(db, 1, 2, label=2)
    assert total == len(wanted)
    assert [int(k) for k, _, _ in page] == wanted[1:3]
    assert all(label == 2 for _, label, _ in page)
    # raw records come back as PNG files showing the right (RGB) image
    image = np.asarray(PIL.Image.open(io.BytesIO(page[0][2])))
    expected = np.asarray(PIL.Image.open(items[wanted[1]][0]))
    assert np.array_equal(image, expected)
    assert read_records(db, 100, 5) == (len(items), [])
    assert read_records(db, 0, 5, label=7) == (0, [])


def test_explore_returns_encoded_bytes_as_stored(build_dataset, image_tree):
    job = build_dataset(image_tree, height=8, width=8, encoding="jpg")
    _, page = read_records(str(job / "val_db"), 0, 1)
    assert page[0][2][:2] == b"\xff\xd8"


def test_dataset_info_and_missing_inputs(job, tmp_path):
    info = read_dataset_info(str(job))
    assert info["labels"] == ["circle", "square", "stripe"]
    assert info["splits"]["train"]["db"] == "train_db" and info["dir"] == str(job)
    with pytest.raises(FileNotFoundError, match="dataset.json"):
        read_dataset_info(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="data.mdb"):
        LmdbDataset(str(tmp_path))
    (tmp_path / "bad.binaryproto").write_bytes(b"\x00\x01garbage")
    with pytest.raises(ValueError):
        load_mean(str(tmp_path / "bad.binaryproto"))


def test_environments_are_released(job):
    """The server must not keep deleted datasets' files mapped: the last user closes the env."""
    from digits.utils import lmdb_io
    db = str(job / "train_db")
    read_records(db, 0, 3, label=1)
    assert not lmdb_io._current and not lmdb_io._by_env
    dataset = LmdbDataset(db)
    other = LmdbDataset(db)
    dataset[0], other[1]
    assert len(lmdb_io._by_env) == 1  # shared: py-lmdb forbids opening the same files twice
    dataset.close()
    other[2]
    other.close()
    assert not lmdb_io._current and not lmdb_io._by_env
