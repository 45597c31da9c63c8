"""Small LMDB helpers: a writer whose map grows on demand, and a read-only opener."""
import contextlib
import os
import threading

import lmdb

from digits.utils.disk import DiskFullError, is_disk_full, low_on_space

INITIAL_MAP_SIZE = 64 << 20
MAX_MAP_SIZE = 1 << 40
WRITE_SLACK = 1 << 20   # page headers, branch pages and the meta page on top of the batch's bytes
LOCK_FILE_BYTES = 64 << 10


def open_readonly(db_dir):
    """Opens an existing LMDB read-only without the lock file (safe for many reader processes)."""
    if not os.path.isfile(os.path.join(db_dir, "data.mdb")):
        raise FileNotFoundError(f'no LMDB database in "{db_dir}" (data.mdb missing)')
    return lmdb.open(db_dir, readonly=True, lock=False, readahead=False, meminit=False,
                     max_readers=2048)


class _Shared:
    __slots__ = ("pid", "ident", "env", "refs")

    def __init__(self, pid, ident, env):
        self.pid, self.ident, self.env, self.refs = pid, ident, env, 0


_current = {}    # real path -> _Shared opened by this process for the files now at that path
_by_env = {}     # id(env) -> _Shared, for release()
_shared_lock = threading.Lock()


def acquire_readonly(db_dir):
    """A read-only environment shared by everything in this process that reads db_dir.

    py-lmdb refuses to open the same files twice in one process, and a forked child inherits the
    parent's open environments; so environments are shared and reference-counted per process, a
    child replaces its inherited copy, and a database rebuilt in place (new inode) gets a fresh
    one. The last release() closes it, so a deleted dataset's disk space is given back.
    """
    path = os.path.realpath(db_dir)
    try:
        st = os.stat(os.path.join(path, "data.mdb"))
    except FileNotFoundError:
        raise FileNotFoundError(f'no LMDB database in "{db_dir}" (data.mdb missing)') from None
    pid, ident = os.getpid(), (st.st_dev, st.st_ino)
    with _shared_lock:
        entry = _current.get(path)
        if entry is None or entry.pid != pid or entry.ident != ident:
            if entry is not None and entry.pid != pid:
                # Our copy of the parent's mapping: closing it only unmaps it in this process.
                entry.env.close()
                _by_env.pop(id(entry.env), None)
            entry = _Shared(pid, ident, open_readonly(path))
            _current[path] = entry
            _by_env[id(entry.env)] = entry
        entry.refs += 1
        return entry.env


def release_readonly(env):
    with _shared_lock:
        entry = _by_env.get(id(env))
        if entry is None or entry.pid != os.getpid():
            return
        entry.refs -= 1
        if entry.refs <= 0:
            del _by_env[id(env)]
            for path, current in list(_current.items()):
                if current is entry:
                    del _current[path]
            env.close()


@contextlib.contextmanager
def readonly_env(db_dir):
    env = acquire_readonly(db_dir)
    try:
        yield env
    finally:
        release_readonly(env)


class LmdbWriter:
    """Writes key/value batches from a single process; doubles map_size whenever it is full."""

    def __init__(self, db_dir, map_size=INITIAL_MAP_SIZE):
        os.makedirs(db_dir, exist_ok=True)
        self.db_dir = db_dir
        self.map_size = map_size
        self._reserve_lock_file()
        try:
            self.env = lmdb.open(db_dir, map_size=map_size, subdir=True, meminit=False,
                                 map_async=True, writemap=False)
        except lmdb.Error as exc:
            self._raise_if_disk_full(exc, 0)
            raise

    def put_many(self, items):
        """items: list of (key bytes, value bytes), written in one transaction."""
        if not items:
            return
        while True:
            try:
                with self.env.begin(write=True) as txn:
                    for key, value in items:
                        txn.put(key, value)
                return
            except lmdb.MapFullError:
                # The transaction was aborted by the context manager, nothing half-written.
                if self.map_size >= MAX_MAP_SIZE:
                    raise
                self.map_size *= 2
                self.env.set_mapsize(self.map_size)
            except lmdb.Error as exc:
                self._raise_if_disk_full(exc, 2 * sum(len(k) + len(v) for k, v in items))
                raise

    def close(self):
        if self.env is None:
            return
        env, self.env = self.env, None
        try:
            env.sync(True)
        except lmdb.Error as exc:
            self._raise_if_disk_full(exc, 0)
            raise
        finally:
            env.close()

    def _reserve_lock_file(self):
        """LMDB writes its lock file through a shared memory map: on a full disk the first page it
        touches kills the process with SIGBUS, nothing to report. Allocated beforehand, that is an
        ENOSPC here (LMDB keeps a lock file larger than it needs, with room for more readers)."""
        fd = os.open(os.path.join(self.db_dir, "lock.mdb"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.posix_fallocate(fd, 0, LOCK_FILE_BYTES)
        except OSError as exc:   # other than a full disk: a filesystem without fallocate, LMDB copes
            if is_disk_full(exc):
                raise DiskFullError.at(self._folder(), "no room for the database's lock file") from exc
        finally:
            os.close(fd)

    def _raise_if_disk_full(self, exc, needed):
        """LMDB says "Input/output error" when its page writes hit a full disk: with less room left
        than the write needed, say what it was."""
        if low_on_space(self._folder(), needed + WRITE_SLACK):
            raise DiskFullError.at(self._folder(), f"writing the database failed ({exc})") from exc

    def _folder(self):
        return os.path.dirname(os.path.abspath(self.db_dir))   # the job's: where the user looks

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def db_size_bytes(db_dir):
    """Bytes used on disk by the database files."""
    total = 0
    for name in ("data.mdb", "lock.mdb"):
        path = os.path.join(db_dir, name)
        if os.path.exists(path):
            total += os.stat(path).st_blocks * 512
    return total
