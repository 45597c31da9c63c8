"""Small LMDB helpers: a writer whose map grows on demand, and a read-only opener."""
import os
import threading

import lmdb

INITIAL_MAP_SIZE = 64 << 20
MAX_MAP_SIZE = 1 << 40


def open_readonly(db_dir):
    """Opens an existing LMDB read-only without the lock file (safe for many reader processes)."""
    if not os.path.isfile(os.path.join(db_dir, "data.mdb")):
        raise FileNotFoundError(f'no LMDB database in "{db_dir}" (data.mdb missing)')
    return lmdb.open(db_dir, readonly=True, lock=False, readahead=False, meminit=False,
                     max_readers=2048)


_shared = {}  # real path -> (pid, (st_dev, st_ino) of data.mdb, env)
_shared_lock = threading.Lock()


def shared_readonly(db_dir):
    """A read-only environment shared by everything in this process that reads db_dir.

    py-lmdb refuses to open the same files twice in one process, and a forked child inherits the
    parent's open environments; so environments are cached per process, a child replaces its
    inherited copy, and a database rebuilt in place (new inode) gets a fresh environment.
    """
    path = os.path.realpath(db_dir)
    try:
        st = os.stat(os.path.join(path, "data.mdb"))
    except FileNotFoundError:
        raise FileNotFoundError(f'no LMDB database in "{db_dir}" (data.mdb missing)') from None
    pid, ident = os.getpid(), (st.st_dev, st.st_ino)
    with _shared_lock:
        entry = _shared.get(path)
        if entry and entry[0] == pid and entry[1] == ident:
            return entry[2]
        if entry and entry[0] != pid:
            # Our copy of the parent's mapping: closing it only unmaps it in this process.
            entry[2].close()
        env = open_readonly(path)
        _shared[path] = (pid, ident, env)
        return env


class LmdbWriter:
    """Writes key/value batches from a single process; doubles map_size whenever it is full."""

    def __init__(self, db_dir, map_size=INITIAL_MAP_SIZE):
        os.makedirs(db_dir, exist_ok=True)
        self.map_size = map_size
        self.env = lmdb.open(db_dir, map_size=map_size, subdir=True, meminit=False,
                             map_async=True, writemap=False)

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

    def close(self):
        if self.env is not None:
            self.env.sync(True)
            self.env.close()
            self.env = None

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
