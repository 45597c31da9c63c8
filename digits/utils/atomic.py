"""Job-folder files: atomic writes (temp file in the same folder, fsync, os.replace: readers never
see half) and tolerant JSON reads."""
import contextlib
import json
import os
import secrets

from digits.utils import finite_json


@contextlib.contextmanager
def atomic_open(path, mode="wb", durable=True):
    """durable=False skips fsync: still atomic for readers and after a crash of the process, only a
    power loss may lose the newest version (fine for frequent progress saves)."""
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(4)}.tmp")
    # 0o666 & ~umask, like open(): mkstemp's 0600 would hide outputs from other users/servers
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_json(path, data, durable=True, pretty=False):
    """Strict JSON (finite_json: no NaN) written atomically — the one writer of the job-folder formats.
    Compact (job.json, train_config.json: rewritten often, read by programs; values JSON lacks become
    their str()) or pretty: indented, keys sorted, a final newline (dataset.json, preprocess.json,
    lists people open)."""
    if pretty:
        text = finite_json.dumps(data, indent=2, sort_keys=True) + "\n"
    else:
        text = finite_json.dumps(data, separators=(",", ":"), default=str)
    with atomic_open(path, "w", durable) as f:
        f.write(text)


def read_json_or_empty(path):
    """The JSON object in path, or {} when the file is missing or unreadable (not written yet)."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}
