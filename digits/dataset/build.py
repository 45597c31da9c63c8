"""Building one split's LMDB: the data extension's read() in worker processes, writes from this process.

Workers return serialized Datums with the class id inside (and, for the train split, the sum of their
images for the mean) chunk by chunk; Pool.imap keeps chunk order, so keys follow the samples' order.
A sample starts with its file path (the reports and the rewritten list name it).
"""
import multiprocessing
import time
from dataclasses import dataclass

import numpy as np

from digits.dataset.check import init_pool_worker
from digits.dataset.datum import array_to_datum
from digits.extensions.data import SkipSample
from digits.utils.cpu import usable_cores
from digits.utils.lmdb_io import LmdbWriter


class SampleError(ValueError):
    """read() refused a sample (ValueError) or broke the interface: the whole split fails, naming it."""

    user_error = True   # the message says which sample and what is wrong: no traceback needed


def _read(extension, params, sample, spec, num_classes):
    try:
        image, label, *notes = extension.read(params, sample)
    except ValueError as exc:
        raise SampleError(f"sample {sample!r}: {exc}") from None
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.shape != spec.shape:
        raise SampleError(f"sample {sample!r}: read() gave a {image.dtype} image of shape {image.shape}, "
                          f"the dataset's images are uint8 {spec.shape}")
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label < num_classes:
        raise SampleError(f"sample {sample!r}: label {label!r} is not a class id below {num_classes}")
    return image, int(label), [str(n) for n in (notes[0] if notes else ())]


def process_chunk(chunk, extension, params, spec, num_classes, want_sum):
    """[(pos, sample)] → ([(pos, datum bytes | None, label, skip reason | None, notes)], sum array | None)."""
    results = []
    total = np.zeros(spec.shape, dtype=np.float64) if want_sum else None
    for pos, sample in chunk:
        try:
            arr, label, notes = _read(extension, params, sample, spec, num_classes)
        except SkipSample as exc:
            results.append((pos, None, None, str(exc), []))
            continue
        try:
            value = array_to_datum(arr, label, spec.encoding)
        except (ValueError, OSError, MemoryError) as exc:  # an image its encoder refuses
            results.append((pos, None, None, f"{type(exc).__name__}: {exc}", []))
            continue
        if want_sum:
            total += arr
        results.append((pos, value, label, None, notes))
    return results, total


_worker_args = None


def _init_worker(*args):
    global _worker_args
    init_pool_worker()
    _worker_args = args


def _worker_chunk(chunk):
    return process_chunk(chunk, *_worker_args)


def _chunks(samples, size):
    chunk = []
    for pos, sample in enumerate(samples):
        chunk.append((pos, sample))
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
    notes: list          # [{"path", "note"}]: what read() said about samples it kept


def build_db(extension, params, samples, db_dir, spec, num_classes, workers=0, want_sum=False, on_progress=None):
    """Writes the samples, as extension.read(params, sample) gives them, into a new LMDB at db_dir;
    samples read() skips (SkipSample) are reported, not fatal. spec: the images' shape and encoding.

    workers: 0 = all cores; 1 = in this process. on_progress(done, total) is called per chunk.
    """
    start = time.monotonic()
    workers = workers or usable_cores()
    total = len(samples)
    # Chunks amortize IPC, yet stay small enough for smooth progress and balanced workers.
    chunk_size = max(1, min(64, total // (workers * 8) or 1))
    written, skipped, notes = [], [], []
    per_class = [0] * num_classes
    image_sum = np.zeros(spec.shape, dtype=np.float64) if want_sum else None
    worker_args = (extension, params, spec, num_classes, want_sum)
    done = 0
    with LmdbWriter(db_dir) as writer:
        pool = None
        if workers > 1:
            pool = multiprocessing.get_context("fork").Pool(
                workers, initializer=_init_worker, initargs=worker_args)
            results = pool.imap(_worker_chunk, _chunks(samples, chunk_size))
        else:
            results = (process_chunk(c, *worker_args) for c in _chunks(samples, chunk_size))
        try:
            for records, chunk_sum in results:
                batch = []
                for pos, value, label, reason, said in records:
                    path = samples[pos][0]
                    if value is None:
                        skipped.append({"path": path, "reason": reason})
                        continue
                    batch.append((b"%08d" % len(written), value))
                    written.append((path, label))
                    per_class[label] += 1
                    notes += [{"path": path, "note": note} for note in said]
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
    return BuildResult(written, skipped, per_class, image_sum, time.monotonic() - start, notes)
