"""From a validated form to the job's plan: checked paths, saved uploads, tool arguments.

Everything a user names is checked here, before a job exists: folders and list files must be
inside the allowed roots, folders must hold class subfolders with images, list files must parse,
archives must be safe. Uploads are saved into the job's (staging) folder and referred to by paths
relative to it, since tools run with the job folder as their working directory.
"""
import os
import random

from digits.dataset import files
from digits.dataset.archive import ArchiveError, check_archive, check_archive_opens, is_archive_name
from digits.utils.forms import FieldError
from digits.utils.image import is_image_file
from digits.utils.paths import PathError, resolve_user_path

UPLOAD_DIR = "upload"
EXTRACT_DIR = "images"
SCAN_BUDGET = 20000   # directory entries looked at per folder when checking it has images
# A zip's listing is read from its central directory at once; a compressed tar must be decompressed
# to be listed, so big ones are checked by the parse task (before extracting) instead of the request.
TAR_CHECK_IN_REQUEST_BYTES = 64 << 20


def _has_image(folder, budget=SCAN_BUDGET):
    seen = 0
    for _, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        if any(is_image_file(n) for n in filenames):
            return True
        seen += len(filenames) + len(dirnames)
        if seen > budget:
            return True  # too big to scan here; the parse task will tell
    return False


def check_image_folder(field, path, roots, min_classes):
    """Resolves a user folder; it must hold ≥ min_classes subfolders with images."""
    if not path or not path.strip():
        raise FieldError(field, "a folder is required")
    try:
        folder = resolve_user_path(path, roots, kind="dir")
    except PathError as exc:
        raise FieldError(field, str(exc)) from None
    try:
        subdirs = [os.path.join(folder, n) for n in sorted(os.listdir(folder)) if not n.startswith(".")]
    except OSError as exc:
        raise FieldError(field, f"cannot read {path}: {exc.strerror or exc}") from None
    classes = [d for d in subdirs if os.path.isdir(d) and _has_image(d)]
    if len(classes) < min_classes:
        what = "is empty" if not subdirs else f"has {len(classes)} class subfolder(s) with images"
        raise FieldError(field, f"{path} {what}; it needs at least {min_classes} "
                                 "subfolder(s) of images, one per class")
    return folder


def _uploaded(storage):
    return storage is not None and getattr(storage, "filename", None)


def _save_upload(storage, staging, name):
    os.makedirs(os.path.join(staging, UPLOAD_DIR), exist_ok=True)
    rel = os.path.join(UPLOAD_DIR, name)
    storage.save(os.path.join(staging, rel))
    return rel


def image_params(form):
    return {"height": form.resize_height.data, "width": form.resize_width.data,
            "channels": int(form.resize_channels.data), "resize_mode": form.resize_mode.data,
            "encoding": form.encoding.data}


def plan(form, staging, config):
    """Returns the job params; raises FieldError(field, message) for a bad source."""
    seed = form.random_seed.data
    if seed is None:
        seed = random.SystemRandom().randrange(2 ** 31)
    roots = config["allowed_roots"]
    if form.method.data == "folder":
        tool, args, splits = "parse_folder", *_plan_folder(form, staging, config)
    else:
        tool, args, splits = "parse_textfile", *_plan_textfile(form, staging, roots)
    args += ["--seed", seed]
    for root in roots:
        args += ["--allowed-root", root]
    # create_db warns about train classes that unreadable files leave below this
    min_per_class = (form.folder_train_min_per_class.data or 1) if form.method.data == "folder" else 1
    params = {"parse_tool": tool, "parse_args": [str(a) for a in args], "splits": splits,
              "image": image_params(form), "seed": seed, "min_per_class": min_per_class}
    if "--archive" in args:   # its name, for the note on a clone's form (the form data has no files)
        params["archive_name"] = upload_name(form.folder_train_archive.data)
    return params


def _plan_folder(form, staging, config):
    roots = config["allowed_roots"]
    archive = form.folder_train_archive.data
    if _uploaded(archive):
        name = archive.filename
        if not is_archive_name(name):
            raise FieldError("folder_train_archive", f'"{name}" is not a .zip or .tar(.gz/.bz2/.xz) archive')
        suffix = next(s for s in (".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".tbz2", ".txz", ".zip", ".tar")
                      if name.lower().endswith(s))
        rel = _save_upload(archive, staging, "images" + suffix)
        limit = config.get("max_extract_bytes") or 4 * config["max_upload_bytes"]
        saved = os.path.join(staging, rel)
        try:
            if suffix == ".zip" or os.path.getsize(saved) <= TAR_CHECK_IN_REQUEST_BYTES:
                check_archive(saved, limit)
            else:
                check_archive_opens(saved)
        except ArchiveError as exc:
            raise FieldError("folder_train_archive", str(exc)) from None
        args = ["--folder", EXTRACT_DIR, "--archive", rel, "--max-extract-bytes", limit]
    elif form.folder_train.data and form.folder_train.data.strip():
        args = ["--folder", check_image_folder("folder_train", form.folder_train.data, roots, 2)]
    else:
        raise FieldError("folder_train", "Training images is required (a folder, or an uploaded archive)")
    pct_val = 0 if form.has_val_folder.data else (form.folder_pct_val.data or 0)
    pct_test = 0 if form.has_test_folder.data else (form.folder_pct_test.data or 0)
    args += ["--pct-val", pct_val, "--pct-test", pct_test]
    _add_limits(args, "", form.folder_train_min_per_class.data, form.folder_train_max_per_class.data)
    splits = ["train"]
    for split in ("val", "test"):
        separate = getattr(form, f"has_{split}_folder").data
        if separate:
            field = f"folder_{split}"
            folder = check_image_folder(field, getattr(form, field).data, roots, 1)
            args += [f"--{split}-folder", folder]
            _add_limits(args, f"{split}-", getattr(form, f"folder_{split}_min_per_class").data,
                        getattr(form, f"folder_{split}_max_per_class").data)
        if separate or (pct_val if split == "val" else pct_test) > 0:
            splits.append(split)
    return args, splits


def _add_limits(args, prefix, minimum, maximum):
    if minimum is not None:
        args += [f"--{prefix}min-per-class", minimum]
    if maximum is not None:
        args += [f"--{prefix}max-per-class", maximum]


def _plan_textfile(form, staging, roots):
    local = form.textfile_use_local_files.data
    labels_path, labels_name = _list_source(form, staging, roots, "labels_file", "labels.txt", local)
    try:
        num_labels = len(files.read_labels(os.path.join(staging, labels_path), display_name=labels_name))
    except files.ListFileError as exc:
        raise FieldError("textfile_local_labels_file" if local else "textfile_labels_file", str(exc)) from None
    args = ["--labels-file", labels_path]
    splits = []
    for split in files.SPLITS:
        if split != "train" and not getattr(form, f"textfile_use_{split}").data:
            continue
        rel, list_name = _list_source(form, staging, roots, f"{split}_images", f"{split}.list", local)
        base_field = f"textfile_{split}_folder"
        base = getattr(form, base_field).data
        if base and base.strip():
            try:
                base = resolve_user_path(base, roots, kind="dir")
            except PathError as exc:
                raise FieldError(base_field, str(exc)) from None
        else:
            base = None
        _check_list(os.path.join(staging, rel), list_name, num_labels, base, roots, local, split,
                    f"textfile_local_{split}_images" if local else f"textfile_{split}_images")
        args += [f"--{split}-list", rel] + ([f"--{split}-folder", base] if base else [])
        splits.append(split)
    if form.textfile_shuffle.checked:
        args.append("--shuffle")
    return args, splits


def _list_source(form, staging, roots, name, saved_name, local):
    """A list/labels file: a server path (checked) or an upload saved into the staging folder.

    Returns (path, name to show in messages): the user's own name for it, never the staging path.
    """
    if local:
        field = f"textfile_local_{name}"
        try:
            path = resolve_user_path(getattr(form, field).data, roots, kind="file")
        except PathError as exc:
            raise FieldError(field, str(exc)) from None
        return path, getattr(form, field).data.strip()
    field = f"textfile_{name}"
    storage = getattr(form, field).data
    if not _uploaded(storage):
        raise FieldError(field, f"{getattr(form, field).label.text} is required (upload a file)")
    return _save_upload(storage, staging, saved_name), upload_name(storage)


def upload_name(storage):
    """The uploaded file's own base name, as the user called it (browsers may send a full path)."""
    return os.path.basename(storage.filename.replace("\\", "/")) or "upload"


def _check_list(path, shown_name, num_labels, base, roots, local, split, field):
    def check(image_path):
        if not os.path.isabs(image_path):
            raise ValueError(f'relative path "{image_path}" needs a base folder ({split} images folder)')
        if not files.inside_roots(image_path, roots):
            raise ValueError(f'image "{image_path}" is outside the folders this server may read')
    # a server-side list's relative paths are relative to the list itself
    default_base = os.path.dirname(path) if local else None
    try:
        items = files.read_list(path, num_labels, base_folder=base or default_base, check_path=check,
                                display_name=f"{split} list ({shown_name})")
    except files.ListFileError as exc:
        raise FieldError(field, str(exc)) from None
    if not items:
        raise FieldError(field, f"the {split} list has no images")
