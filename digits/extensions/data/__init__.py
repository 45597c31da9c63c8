"""Data extensions: a kind of dataset (DIGITS' DataIngestionInterface, redesigned).

A data extension says what its dataset is made of; the server does the rest — the "new dataset" page
(/datasets/generic/new/<extension_id>), the REST route (/datasets/generic/create/<extension_id>[.json]),
the job, the tool that writes the LMDBs (digits.tools.create_generic_db) and the dataset page — so a
new kind writes no tool, route or job code. The dataset it makes is a generic one (features and labels
in paired LMDBs, dataset.json as digits/dataset/images/generic writes it), trained by generic models.

Subclass DataExtension and set or override:

    extension_id   unique id in URLs, e.g. "image-points" (letters, digits, '-')
    title          shown in the New dataset menu and on the page
    group          the menu's heading ("Images" for the built-in kinds)
    label_kind     "class" (one class id per sample), "vector" (floats), "boxes" or "mask"
    form_class     a Flask-WTF form class with the extension's fields (dataset_name/group_name are added)
    template       a Jinja template with those fields, included in the page (gets `form` and the macro
                   `field` from partials/forms.html); None renders every field in order

    plan(form, config) -> params
        Runs in the web server when the form validates: checks what the fields name (server paths must
        be resolved inside config["allowed_roots"], digits.utils.paths.resolve_user_path) and returns a
        JSON-able dict the tool gets back. Raise digits.utils.forms.FieldError(field, message) for bad
        input; nothing is stored then. Keep it fast: read headers, not whole datasets.
    splits(params) -> ("train", "val", ...)     the splits to write (default train and val)
    samples(params, split) -> [sample, ...]     JSON-able descriptions of the split's samples, in order
    read(params, sample) -> (image, label)
        image: uint8 numpy H×W (grayscale) or H×W×3 (RGB), the same size for every sample of the dataset;
        label: an int class id for label_kind "class", else a sequence of floats of one length.
        Raise ValueError with a message to fail the job naming the sample.
    label_names(params) -> [names] or None      class or label-component names (labels.txt)

samples() and read() run in the tool's subprocess, never in the web server. The registry holds the
built-ins and the entry points of the group `digits.plugins.data` (each naming a DataExtension subclass
or instance).
"""
import logging
import re
from importlib import metadata

from digits.utils.plugins import LoadOnce

log = logging.getLogger("digits.extensions.data")
ENTRY_POINT_GROUP = "digits.plugins.data"
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")


class DataExtensionError(ValueError):
    """An unknown extension id, or an extension that breaks the interface."""


class DataExtension:
    extension_id = ""
    title = ""
    group = "Images"
    label_kind = "vector"
    form_class = None
    template = None

    def plan(self, form, config):
        raise NotImplementedError

    def splits(self, params):
        return ("train", "val")

    def samples(self, params, split):
        raise NotImplementedError

    def read(self, params, sample):
        raise NotImplementedError

    def label_names(self, params):
        return None


_registry = {}


def register(extension):
    """Adds an extension (class or instance); its id must be new and well formed."""
    extension = extension() if isinstance(extension, type) else extension
    if not isinstance(extension, DataExtension):
        raise DataExtensionError(f"{extension!r} is not a DataExtension")
    if not _ID.match(extension.extension_id or ""):
        raise DataExtensionError(f"data extension id {extension.extension_id!r} must be lowercase letters, digits "
                                 f"and '-'")
    if extension.extension_id in _registry and _registry[extension.extension_id] is not extension:
        raise DataExtensionError(f"data extension {extension.extension_id!r} is registered twice")
    if extension.form_class is None:
        raise DataExtensionError(f"data extension {extension.extension_id!r} has no form_class")
    _registry[extension.extension_id] = extension
    return extension


def unregister(extension_id):
    _registry.pop(extension_id, None)


def _fill():
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            register(entry.load())
        except Exception:   # a broken plugin must not take the server down; it is logged and left out
            log.exception("data extension %s (%s) could not be loaded", entry.name, entry.value)


_load = LoadOnce(_fill)


def extensions():
    _load()
    return sorted(_registry.values(), key=lambda e: (e.group, e.title))


def get_extension(extension_id):
    _load()
    try:
        return _registry[extension_id]
    except KeyError:
        known = ", ".join(sorted(_registry)) or "none is installed"
        raise DataExtensionError(f"no data extension {extension_id!r} (known: {known})") from None
