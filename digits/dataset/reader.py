"""Reading a dataset job folder: torch Dataset over an LMDB, mean file, dataset.json, Explore pages."""
import os
import threading

import numpy as np

from digits.dataset import files
from digits.dataset.datum import datum_to_array, datum_to_chw, parse_datum
from digits.dataset.mean import load_mean  # noqa: F401  (part of the reader API)
from digits.utils.image import encode_image
from digits.utils.lmdb_io import acquire_readonly, readonly_env, release_readonly


def _key(index):
    return b"%08d" % index


class LmdbDataset:
    """(uint8 tensor C×H×W RGB, int label) for each record of an LMDB written by create_db.

    A map-style dataset for torch's DataLoader. torch is imported on first use only: the web server
    reads dataset info and Explore pages from this module and must not load torch for that.
    The LMDB environment is opened lazily in each process (readonly, lock=False), so the object
    can be handed to DataLoader worker processes (fork or spawn).
    """

    def __init__(self, db_dir, transform=None):
        self.db_dir = os.path.abspath(db_dir)
        self.transform = transform
        with readonly_env(self.db_dir) as env:
            self._length = env.stat()["entries"]
        self._env = None
        self._pid = None

    def __len__(self):
        return self._length

    def _txn(self):
        if self._env is None or self._pid != os.getpid():
            self._env = acquire_readonly(self.db_dir)
            self._pid = os.getpid()
        return self._env.begin(buffers=False)

    def read(self, index):
        """(uint8 numpy C×H×W RGB, label) without torch."""
        if not 0 <= index < self._length:
            raise IndexError(f"index {index} out of range for {self._length} records")
        with self._txn() as txn:
            value = txn.get(_key(index))
        if value is None:
            raise KeyError(f'record {index} missing from "{self.db_dir}"')
        datum = parse_datum(value)
        return datum_to_chw(datum), datum.label

    def __getitem__(self, index):
        import torch
        chw, label = self.read(index)
        tensor = torch.from_numpy(np.require(chw, requirements=["C", "W"]))  # writable for torch
        if self.transform is not None:
            tensor = self.transform(tensor)
        return tensor, label

    def labels(self):
        """All labels in record order (scans the database once)."""
        return list(_label_index(self.db_dir))

    def close(self):
        """Gives this process's environment back (the last user closes it)."""
        env = getattr(self, "_env", None)
        if env is not None and self._pid == os.getpid():
            release_readonly(env)
        self._env = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown may have torn the module down
            pass

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_env"] = None  # an open environment must not cross process boundaries
        state["_pid"] = None
        return state


def read_dataset_info(dataset_dir):
    """dataset.json plus "labels" (from labels.txt) and "dir" (absolute folder)."""
    info = files.read_info(dataset_dir)
    labels_path = os.path.join(dataset_dir, files.LABELS_FILE)
    info["labels"] = files.read_labels(labels_path) if os.path.exists(labels_path) else []
    info["dir"] = os.path.abspath(dataset_dir)
    return info


_label_cache = {}  # db_dir -> ((inode, mtime) of data.mdb, labels)
_label_cache_lock = threading.Lock()


def _label_index(db_dir):
    """numpy int32 array of every record's label, cached until the database file changes."""
    data_file = os.path.join(db_dir, "data.mdb")
    st = os.stat(data_file)
    stamp = (st.st_ino, st.st_mtime_ns)
    with _label_cache_lock:
        cached = _label_cache.get(db_dir)
        if cached and cached[0] == stamp:
            return cached[1]
    with readonly_env(db_dir) as env, env.begin(buffers=True) as txn:
        labels = np.fromiter((parse_datum(bytes(v)).label for _, v in txn.cursor()), dtype=np.int32)
    with _label_cache_lock:
        _label_cache[db_dir] = (stamp, labels)
    return labels


def read_records(db_dir, offset, limit, label=None):
    """One page of records for the Explore page.

    Returns (total, [(key, label, image_bytes)]) where total counts the records matching `label`
    (all when None) and image_bytes is a PNG/JPEG file (raw records are encoded to PNG).
    """
    if offset < 0 or limit < 0:
        raise ValueError("offset and limit must be >= 0")
    db_dir = os.path.abspath(db_dir)
    with readonly_env(db_dir) as env:
        if label is None:
            total = env.stat()["entries"]
            indices = range(offset, min(total, offset + limit))
        else:
            matching = np.flatnonzero(_label_index(db_dir) == int(label))
            total = len(matching)
            indices = matching[offset:offset + limit].tolist()
        page = []
        with env.begin() as txn:
            for index in indices:
                value = txn.get(_key(index))
                if value is None:
                    continue
                datum = parse_datum(value)
                data = datum.data if datum.encoded else encode_image(datum_to_array(datum), "png")
                page.append((_key(index).decode(), datum.label, bytes(data)))
    return total, page
