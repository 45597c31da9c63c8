"""What users give to classify: an uploaded image, a server path, an uploaded list of "path [label]"
lines, or a server folder. Server paths must lie inside the allowed roots (digits.utils.paths)."""
import base64
import os
import re
import shutil
import tempfile

from digits.inference.errors import InferenceError
from digits.utils.image import is_image_file
from digits.utils.paths import PathError, resolve_user_path

# DIGITS: a numeric label may end the line; a negative one is a bad label, not part of the path
_LIST_LINE = re.compile(r"^(?P<path>.*\S)\s+(?P<label>-?\d+)$")
MAX_LIST_BYTES = 64 * 1024 * 1024
INLINE_BYTES = 4 * 1024 * 1024   # uploads up to this size go to the worker inside the request line


class Item:
    """One image to classify: the name users see, the file to read (None if refused), the true label."""

    def __init__(self, name, path=None, label=None, error=None):
        self.name, self.path, self.label, self.error = name, path, label, error


class Uploads:
    """A temporary folder for uploaded files, removed when the request is done."""

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="digits-inference-")
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)

    def image(self, storage, field):
        """An uploaded image for the worker: inline when small (saves a temp file), else a saved file —
        with the upload's own name either way, which is what errors show (never the temp file's path).
        The worker's images.load_resized reads both forms (not imported here: it loads torch)."""
        data = storage.read(INLINE_BYTES + 1)
        if len(data) <= INLINE_BYTES:
            if not data:
                raise InferenceError(f"{field}: the uploaded file {storage.filename!r} is empty", 400, "BadRequest")
            return {"name": storage.filename, "data": base64.b64encode(data).decode("ascii")}
        storage.stream.seek(0)
        return {"name": storage.filename, "path": self.save(storage, field)}

    def save(self, storage, field):
        if storage is None or not storage.filename:
            raise InferenceError(f"{field}: no file uploaded", 400, "BadRequest")
        path = os.path.join(self.dir, f"{field}-{len(os.listdir(self.dir))}")
        storage.save(path)
        if os.path.getsize(path) == 0:
            raise InferenceError(f"{field}: the uploaded file {storage.filename!r} is empty", 400, "BadRequest")
        return path


def one_image(request, uploads, roots):
    """(file to read, name the user knows) of a one-image request: an upload (image_file) or a server
    path (image_path); InferenceError 400 for anything else."""
    upload = request.files.get("image_file")
    if upload is not None and upload.filename:
        return uploads.image(upload, "image_file"), upload.filename
    if request.form.get("image_path"):
        return server_image(request.form["image_path"], roots), request.form["image_path"]
    if request.form.get("image_url"):
        raise InferenceError("image_url is not supported here (the server does not fetch from the "
                             "network): upload image_file or set image_path", 400, "BadRequest")
    raise InferenceError("give an image: upload image_file or set image_path", 400, "BadRequest")


def server_image(path, roots, field="image_path"):
    try:
        return resolve_user_path(path, roots, kind="file")
    except PathError as exc:
        raise InferenceError(f"{field}: {exc}", 400, "BadRequest") from None


def parse_image_list(text, roots, base_folder=None, num_classes=None, limit=None):
    """Items for the lines of an image list; bad lines become items with an error."""
    items = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if limit is not None and len(items) >= limit:
            break
        match = _LIST_LINE.match(line)
        name, label = (match.group("path"), int(match.group("label"))) if match else (line, None)
        if label is not None and (label < 0 or (num_classes is not None and label >= num_classes)):
            classes = f"0..{num_classes - 1}" if num_classes is not None else "class ids start at 0"
            items.append(Item(name, error=f"line {number}: label {label} is not a class of this model ({classes})"))
            continue
        full = name if os.path.isabs(os.path.expanduser(name)) or not base_folder else os.path.join(base_folder, name)
        if not os.path.isabs(os.path.expanduser(full)):
            items.append(Item(name, error=f"line {number}: relative path {name!r} needs image_folder"))
            continue
        try:
            items.append(Item(name, resolve_user_path(full, roots, kind="file"), label))
        except PathError as exc:
            items.append(Item(name, error=f"line {number}: {exc}"))
    return items


def folder_root(folder, roots):
    try:
        return resolve_user_path(folder, roots, kind="dir")
    except PathError as exc:
        raise InferenceError(f"image_folder: {exc}", 400, "BadRequest") from None


def folder_items(folder, roots, labels=(), limit=None):
    """The images under folder (sorted); an image in a subfolder named like a class gets that label.

    With a limit, an evenly spread sample of the sorted list, so a folder of class subfolders is
    sampled across its classes rather than cut after the first one."""
    root = folder_root(folder, roots)
    label_ids = {name: i for i, name in enumerate(labels)}
    paths = []
    for current, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        paths.extend(os.path.join(current, name) for name in sorted(files) if is_image_file(name))
    if limit is not None and len(paths) > limit:
        paths = [paths[i * len(paths) // limit] for i in range(limit)]
    items = []
    for path in paths:
        relative = os.path.relpath(path, root)
        top = relative.split(os.sep)[0] if os.sep in relative else None
        try:   # a symlink inside the folder may point anywhere
            items.append(Item(path, resolve_user_path(path, roots, kind="file"), label_ids.get(top)))
        except PathError as exc:
            items.append(Item(path, error=str(exc)))
    return items


def read_list_upload(storage):
    data = storage.read(MAX_LIST_BYTES + 1)
    if len(data) > MAX_LIST_BYTES:
        raise InferenceError(f"image_list is larger than {MAX_LIST_BYTES // 2**20} MiB", 413, "RequestEntityTooLarge")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InferenceError("image_list must be UTF-8 text with one \"path [label]\" per line", 400,
                             "BadRequest") from None


def positive_int(value, field, default=None):
    if value is None or str(value).strip() == "":
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        raise InferenceError(f"{field} must be a whole number, got {value!r}", 400, "BadRequest") from None
    if number < 1:
        raise InferenceError(f"{field} must be at least 1, got {number}", 400, "BadRequest")
    return number
