"""Building one split's LMDB: decode + resize in worker processes, write from this process.

Workers return serialized Datums (and, for the train split, the sum of their resized images for
the mean) chunk by chunk; Pool.imap keeps chunk order, so keys follow the list order.
"""
import multiprocessing
import time
from dataclasses import dataclass

import numpy as np

from digits.dataset.check import init_pool_worker
from digits.dataset.datum import array_to_datum
from digits.utils.image import NOISE_PADDED_MODES, LoadImageError, decode_image_bytes, resize_image
from digits.utils.cpu import usable_cores
from digits.utils.lmdb_io import LmdbWriter


@dataclass(frozen=True)
class ImageSpec:
    height: int
    width: int
    channels: int
    resize_mode: str
    encoding: str
    seed: int = 0  # noise of fill/half_crop is seeded per image: same DB whatever the worker count

    @property
    def shape(self):
        return (self.height, self.width) if self.channels == 1 else (self.height, self.width, 3)


def _read_and_resize(path, pos, spec):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise LoadImageError("file not found") from None
    except IsADirectoryError:
        raise LoadImageError("is a folder, not a file") from None
    except OSError as exc:
        raise LoadImageError(f"cannot read file: {exc.strerror or exc}") from None
    image = decode_image_bytes(data)
    rng = None
    if spec.resize_mode in NOISE_PADDED_MODES:
        rng = np.random.default_rng([spec.seed, pos])
    return resize_image(image, spec.height, spec.width, spec.channels, spec.resize_mode, rng=rng)


def process_chunk(chunk, spec, want_sum):
    """[(pos, path, label)] → ([(pos, datum bytes | None, skip reason | None)], sum array | None)."""
    results = []
    total = np.zeros(spec.shape, dtype=np.float64) if want_sum else None
    for pos, path, label in chunk:
        try:
            arr = _read_and_resize(path, pos, spec)
            value = array_to_datum(arr, label, spec.encoding)
        except LoadImageError as exc:
            results.append((pos, None, str(exc)))
            continue
        except (ValueError, OSError, MemoryError) as exc:  # PIL/numpy surprises on odd files
            results.append((pos, None, f"{type(exc).__name__}: {exc}"))
            continue
        if want_sum:
            total += arr
        results.append((pos, value, None))
    return results, total


_worker_args = None


def _init_worker(spec, want_sum):
    global _worker_args
    init_pool_worker()
    _worker_args = (spec, want_sum)


def _worker_chunk(chunk):
    return process_chunk(chunk, *_worker_args)


def _chunks(items, size):
    chunk = []
    for pos, (path, label) in enumerate(items):
        chunk.append((pos, path, label))
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class BuildResult:
    written: list        # [(path, label)] in key order
    skipped: list        # [{"path", "reason"}]
    per_class: list
    image_sum: object    # float64 array (train only) or None
    seconds: float


def build_db(items, db_dir, spec, num_classes, workers=0, want_sum=False, on_progress=None):
    """Writes items [(path, label)] into a new LMDB at db_dir; corrupt files are skipped, not fatal.

    workers: 0 = all cores; 1 = in this process. on_progress(done, total) is called per chunk.
    """
    start = time.monotonic()
    workers = workers or usable_cores()
    total = len(items)
    # Chunks amortize IPC, yet stay small enough for smooth progress and balanced workers.
    chunk_size = max(1, min(64, total // (workers * 8) or 1))
    written, skipped = [], []
    per_class = [0] * num_classes
    image_sum = np.zeros(spec.shape, dtype=np.float64) if want_sum else None
    done = 0
    with LmdbWriter(db_dir) as writer:
        pool = None
        if workers > 1:
            pool = multiprocessing.get_context("fork").Pool(
                workers, initializer=_init_worker, initargs=(spec, want_sum))
            results = pool.imap(_worker_chunk, _chunks(items, chunk_size))
        else:
            results = (process_chunk(c, spec, want_sum) for c in _chunks(items, chunk_size))
        try:
            for records, chunk_sum in results:
                batch = []
                for pos, value, reason in records:
                    path, label = items[pos]
                    if value is None:
                        skipped.append({"path": path, "reason": reason})
                        continue
                    batch.append((b"%08d" % len(written), value))
                    written.append((path, label))
                    per_class[label] += 1
                writer.put_many(batch)
                if want_sum and chunk_sum is not None:
                    image_sum += chunk_sum
                done += len(records)
                if on_progress:
                    on_progress(done, total)
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
    return BuildResult(written, skipped, per_class, image_sum, time.monotonic() - start)
