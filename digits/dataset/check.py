"""Checking many image files before a dataset's classes are fixed, in worker processes on all cores.

Only headers and structure are read (digits.utils.image.check_image_file), a small fraction of the
cost of decoding: it finds the non-images, empty and broken files so that a class made only of them
is dropped like any too-small class, instead of reaching training with no images.
"""
import multiprocessing
import signal

from digits.utils.cpu import usable_cores
from digits.utils.image import check_image_file

POOL_FROM = 256  # below this many files, starting processes costs more than it saves


def init_pool_worker():
    """Signals of a dataset tool's pool worker: the parent handles SIGTERM (abort) and terminates the
    pool, so a worker just dies on it; Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _check_chunk(paths):
    return [check_image_file(path) for path in paths]


def check_images(paths, workers=0, on_progress=None):
    """{path: reason} for each of paths that is not a readable image. on_progress(done, total).

    workers: 0 = all cores (in this process for a few files), 1 = in this process, N = N processes.
    """
    paths = list(paths)
    if not workers:
        workers = usable_cores() if len(paths) >= POOL_FROM else 1
    size = max(1, min(256, len(paths) // (workers * 8) or 1))
    chunks = [paths[i:i + size] for i in range(0, len(paths), size)]
    pool = None
    if workers > 1:
        pool = multiprocessing.get_context("fork").Pool(workers, initializer=init_pool_worker)
        results = pool.imap(_check_chunk, chunks)
    else:
        results = map(_check_chunk, chunks)
    bad, done = {}, 0
    try:
        for chunk, reasons in zip(chunks, results):
            bad.update((path, reason) for path, reason in zip(chunk, reasons) if reason)
            done += len(chunk)
            if on_progress:
                on_progress(done, len(paths))
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    return bad
