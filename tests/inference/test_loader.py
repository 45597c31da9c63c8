"""The worker's model cache: bounded (DIGITS_INFERENCE_CACHE), least recently used dropped first, a
snapshot rewritten in place loaded again. Loading itself is replaced by a stub: only the cache is tested."""
import os

import pytest
import torch

from digits.inference import loader


@pytest.fixture
def specs(tmp_path, monkeypatch):
    monkeypatch.setattr(loader, "load_model", lambda spec, device: object())
    found = []
    for i in range(4):
        folder = tmp_path / f"m{i}"
        folder.mkdir()
        (folder / "preprocess.json").write_text("{}")
        (folder / "w.pt").write_bytes(b"x")
        found.append({"dir": str(folder), "weights": str(folder / "w.pt")})
    return found


def test_size_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("DIGITS_INFERENCE_CACHE", "2")
    assert loader.ModelCache(device=torch.device("cpu")).size == 2
    monkeypatch.delenv("DIGITS_INFERENCE_CACHE")
    assert loader.ModelCache(device=torch.device("cpu")).size == loader.DEFAULT_CACHE_SIZE
    for bad in ("0", "many"):
        monkeypatch.setenv("DIGITS_INFERENCE_CACHE", bad)
        with pytest.raises(ValueError, match="DIGITS_INFERENCE_CACHE must be a whole number"):
            loader.ModelCache(device=torch.device("cpu"))


def test_least_recently_used_model_is_dropped(specs, monkeypatch):
    monkeypatch.setenv("DIGITS_INFERENCE_CACHE", "2")
    cache = loader.ModelCache(device=torch.device("cpu"))
    a, b = cache.get(specs[0]), cache.get(specs[1])
    assert cache.get(specs[0]) is a and cache.loads == 2      # a hit: a is now the most recent
    c = cache.get(specs[2])                                     # over the limit: b goes
    assert len(cache) == 2 and cache.loads == 3
    assert cache.get(specs[0]) is a and cache.get(specs[2]) is c and cache.loads == 3
    assert cache.get(specs[1]) is not b and cache.loads == 4    # b was loaded again
    assert len(cache) == 2


def test_a_snapshot_rewritten_in_place_is_loaded_again(specs):
    cache = loader.ModelCache(size=3, device=torch.device("cpu"))
    first = cache.get(specs[0])
    cache.get(specs[1])
    stat = os.stat(specs[0]["weights"])
    os.utime(specs[0]["weights"], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    again = cache.get(specs[0])
    assert again is not first and cache.loads == 3
    assert len(cache) == 2   # the new version replaced the old one instead of crowding others out
    with pytest.raises(loader.ModelError, match='cannot read "w.pt.gone"') as refused:
        cache.get(dict(specs[3], weights=specs[3]["weights"] + ".gone"))
    assert refused.value.status == 404 and specs[3]["dir"] not in str(refused.value)
