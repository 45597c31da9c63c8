"""Full disks: which errors mean one, and messages saying where and how much was free.

Torch-free: the web server, the dataset tools and the trainer all report a full disk the same way.
"""
import contextlib
import errno
import os
import shutil
import tempfile

FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})   # a quota counts: the user's disk is full


class DiskFullError(OSError):
    """A write failed for lack of space; str() is the whole message (where, how much was free)."""

    user_error = True   # tools report the message alone: code frames say nothing about a full disk

    def __init__(self, message):
        super().__init__(message)
        self.errno = errno.ENOSPC

    @classmethod
    def at(cls, folder, cause=None):
        return cls(f"the disk is full ({free_text(folder)})" + (f": {cause}" if cause else ""))


def is_disk_full(exc):
    return isinstance(exc, OSError) and exc.errno in FULL_ERRNOS


def free_bytes(path):
    """Bytes an unprivileged writer may still use on path's filesystem (path need not exist yet);
    None when that cannot be told."""
    path = os.path.abspath(path)
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def megabytes(size):
    return "an unknown amount" if size is None else f"{size / (1 << 20):.1f} MB"


def free_text(folder):
    return f"{megabytes(free_bytes(folder))} free in {folder}"


def write_error_text(exc, folder):
    """A failed write's OSError as words: its reason, and for a full disk where and how much was free."""
    reason = exc.strerror or str(exc)
    return f"{reason} ({free_text(folder)})" if is_disk_full(exc) and not isinstance(exc, DiskFullError) else reason


def low_on_space(folder, needed):
    """True when folder's disk has less than `needed` bytes free. LMDB reports a full disk as an I/O
    error (EIO from its page writes), so the free space is what tells the two apart."""
    free = free_bytes(folder)
    return free is not None and free < needed


@contextlib.contextmanager
def full_disk_named(folder):
    """Turns a disk-full OSError raised inside into a DiskFullError that names folder."""
    try:
        yield
    except DiskFullError:
        raise
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        raise DiskFullError.at(folder, exc.strerror) from exc


def server_disk_full_message(jobs_dir):
    """A web request's failed write: the jobs disk is full, unless the temporary folder (where uploads
    wait) is on another disk with less room."""
    tmp = tempfile.gettempdir()
    jobs_free, tmp_free = free_bytes(jobs_dir), free_bytes(tmp)
    if tmp_free is not None and jobs_free is not None and tmp_free < jobs_free:
        return (f"the server's temporary disk is full ({megabytes(tmp_free)} free in {tmp}); "
                "try again once space is freed there")
    return (f"the jobs disk is full ({megabytes(jobs_free)} free): free some space "
            "(delete jobs you no longer need), then try again")
