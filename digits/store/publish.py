"""Publishing a trained model into a file:// model store, in the format pushes read (digits.store.info):
<store>/<dir>/ with info.json, weights.pt, the network file, labels.txt, preprocess.json and the mean
it uses; master.json, when the store has one, gains the folder.

The folder is written under a hidden staging name and renamed into place, so a listing never shows
half a model; an existing folder is replaced only when asked.
"""
import os
import re
import secrets
import shutil

from digits.dataset.files import MEAN_FILE
from digits.model import preprocess_spec
from digits.pretrained_model.job import LABELS_FILE, WEIGHTS_FILE
from digits.pretrained_model.views import write_model_files
from digits.store import client
from digits.store.info import (INFO_FILE, MASTER_FILE, StoreError, bare_name, parse_object, published_info,
                               with_child)
from digits.utils.atomic import write_json

DIR_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def file_stores(urls):
    """{base URL: folder} of the configured stores this server can write: the file:// ones."""
    stores = {}
    for url in urls:
        try:
            base = client.base_url(url)
            if base.startswith("file:"):
                stores[base] = client.local_folder(base)
        except StoreError:
            continue   # shown as broken on the store page
    return stores


def pick_store(urls, chosen):
    """(base URL, folder) of the store the user chose (its URL; may be left out when there is one)."""
    stores = file_stores(urls)
    if not stores:
        raise StoreError("no file:// model store is configured to publish into (DIGITS_MODEL_STORE_URL)", 409,
                         "Conflict")
    chosen = (chosen or "").strip()
    if not chosen and len(stores) == 1:
        chosen = next(iter(stores))
    base = client.base_url(chosen) if chosen else ""
    if base not in stores:
        raise StoreError(f"store must be one of {', '.join(stores)}, got {chosen!r}")
    if not os.path.isdir(stores[base]):
        raise StoreError(f"the store folder {stores[base]} does not exist", 409, "Conflict")
    return base, stores[base]


def default_dir_name(model, epoch):
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", model.name).strip("._-") or model.id
    return f"{stem}_epoch_{epoch:g}" if epoch is not None else stem


def check_dir_name(name):
    name = bare_name((name or "").strip(), "dir_name")
    if not DIR_NAME_RE.match(name):
        raise StoreError(f"dir_name may hold letters, digits, '.', '_' and '-' (not first), got {name!r}")
    return name


def publish(model, spec, epoch, folder, dir_name, overwrite, user):
    """Writes the model's snapshot (spec, epoch) into folder/dir_name; returns info.json's content."""
    target = os.path.join(folder, dir_name)
    if os.path.lexists(target) and not overwrite:
        raise StoreError(f"the store already holds a model folder named {dir_name!r}: choose another dir_name, "
                         f"or send overwrite=1 to replace it", 409, "Conflict")
    master = _master(folder)
    staging = os.path.join(folder, f".publish-{secrets.token_hex(4)}")
    os.mkdir(staging)
    try:
        framework, network_file = write_model_files(model, spec, staging)
        params = preprocess_spec.read(staging)
        files = {"weights": WEIGHTS_FILE, "labels": LABELS_FILE, "preprocess": preprocess_spec.PREPROCESS_FILE,
                 "mean": MEAN_FILE if preprocess_spec.uses_mean(params) else None}
        info = published_info(model, epoch, framework, network_file, params, files, user)
        write_json(os.path.join(staging, INFO_FILE), info, pretty=True)
        _move_into_place(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if master is not None:
        write_json(os.path.join(folder, MASTER_FILE), with_child(master, dir_name), pretty=True)
    return info


def _master(folder):
    """The store's master.json object, None when it has none; a broken one is refused, not overwritten."""
    path = os.path.join(folder, MASTER_FILE)
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        master = parse_object(f.read(), path)
    if not isinstance(master.get("children", []), list):
        raise StoreError(f'{path} must have "children": a list of model folder names', 409, "Conflict")
    return master


def _move_into_place(staging, target):
    old = None
    if os.path.lexists(target):
        old = f"{staging}-old"
        os.replace(target, old)
    os.replace(staging, target)
    if old:
        if os.path.isdir(old) and not os.path.islink(old):
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.unlink(old)
