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
    label_kind     "class" (one class id per sample), "vector" (floats), "boxes" (object boxes, see below)
                   or "mask"
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
        label: an int class id for label_kind "class"; for "boxes" an n×5 float array of rows
        [class_id, x1, y1, x2, y2] in the returned image's pixels (n may be 0; class 0 is DontCare: a
        region ignored by the loss and the metrics, as DIGITS' detection datasets have it); for "mask"
        a uint8 H×W array of class ids at the image's size (255 = ignore); else a sequence of floats
        of one length for every sample.
        It may return (image, label, notes): notes are strings (e.g. "object 3: x2 < x1, left out") that
        go into the dataset's report under the sample. Raise SkipSample(reason) to leave the sample out
        (it is listed in the report and the dataset builds from the rest); raise ValueError with a message
        to fail the whole job naming the sample.
    label_names(params) -> [names] or None      class or label-component names (labels.txt)
    info(params) -> {key: value}                optional: the extension's own facts for dataset.json
                                                (e.g. detection's "geometry"); never replaces the generic keys

Optional hooks:

    new_url        None, or the page of an extension with its own form, routes and job kind (image
                   classification): the generic new-dataset route redirects there, the generic create
                   route refuses it (404 naming that page), and the menus list it once, at that page
    new_model_url  None, or that extension's own new-model page: /models/images/generic/new/<id> redirects there
    list_samples(params)
        The listing step, for a kind that must look at its whole source once before any split is read
        (walk a folder, check the files, fix the classes, cut the splits): it writes into
        params["job_dir"] what samples() then reads. It reports through digits.tools.common.emit
        (progress, warning, result) and raises ValueError with a message for a source that cannot make a
        dataset. The listing tools run it — `python -m digits.tools.parse_folder` or `parse_textfile`
        `--job-dir DIR [--extension ID] <the step's own arguments>` — with params {"parse_tool",
        "parse_args", "job_dir"}: plan() returning "parse_tool" and "parse_args" says which tool the job
        runs first, so a kind with a listing step writes no tool. The default does nothing (and the
        listing tools refuse an extension without one).

Hooks for the models trained on its datasets (they run in the web process: numpy and PIL at most):

    default_view   None, or the id of the view extension (digits.extensions.view) their inference results
                   show in when the request names none (a plugin's own view; the task type's default if
                   that view is not installed)
    inference_fields   ((field, label), ...): form fields a model page's "Test one" form shows as text
                   boxes, and infer_one[.json] takes instead of an image (e.g. (("text", "Text"),))
    inference_input(params, fields) -> image
        The feature of one inference request: fields maps each of inference_fields to the posted text
        (at least one is not empty); params are the dataset's (its plan()'s). Returns the uint8 array
        read() would have made of such a sample (the dataset's image size); raise ValueError with a
        message for bad input (the request gets a 400).

samples() and read() run in the tool's subprocess, never in the web server; a tool working in a job's
folder passes params with "job_dir" added (the folder the listing step wrote into). digits.tools.create_db
writes Datum LMDBs with the class id inside (label_kind "class", samples that start with their file path:
(path, class id, ...)); create_generic_db writes paired feature/label LMDBs for any kind. The registry
holds the built-ins (BUILTINS) and the entry points of the group `digits.plugins.data` (each naming a
DataExtension subclass or instance).
"""
import argparse
import inspect
import re
from importlib import import_module

from digits.utils.plugins import LoadOnce, load_entry_points

ENTRY_POINT_GROUP = "digits.plugins.data"
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")


class DataExtensionError(ValueError):
    """An unknown extension id, or an extension that breaks the interface."""


class SkipSample(Exception):
    """Raised by read(): this sample is left out of the dataset, for the reason given (it is reported)."""


# "module:attribute" of the extensions that ship with the server, imported when the registry first fills
BUILTINS = ("digits.dataset.images.classification.extension:ImageClassificationExtension",
            "digits.dataset.images.detection.extension:ObjectDetectionExtension",
            "digits.dataset.images.segmentation.extension:SegmentationExtension")


class DataExtension:
    extension_id = ""
    title = ""
    group = "Images"
    label_kind = "vector"
    form_class = None
    template = None
    new_url = None
    default_view = None
    inference_fields = ()
    new_model_url = None

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

    def info(self, params):
        return {}

    def list_samples(self, params):
        return None

    def inference_input(self, params, fields):
        raise NotImplementedError


_registry = {}


def register(extension):
    """Adds an extension (class or instance); its id must be new and well formed. Registering the class
    already registered returns its instance (the registry fills again after _load.reset())."""
    if isinstance(extension, type):
        current = _registry.get(getattr(extension, "extension_id", None))
        extension = current if type(current) is extension else extension()
    if not isinstance(extension, DataExtension):
        raise DataExtensionError(f"{extension!r} is not a DataExtension")
    if not _ID.match(extension.extension_id or ""):
        raise DataExtensionError(f"data extension id {extension.extension_id!r} must be lowercase letters, digits "
                                 f"and '-'")
    if extension.extension_id in _registry and _registry[extension.extension_id] is not extension:
        raise DataExtensionError(f"data extension {extension.extension_id!r} is registered twice")
    # not extension.form_class: an extension may import its form lazily, so that tools never load it
    if inspect.getattr_static(extension, "form_class", None) is None:
        raise DataExtensionError(f"data extension {extension.extension_id!r} has no form_class")
    _registry[extension.extension_id] = extension
    return extension


def unregister(extension_id):
    _registry.pop(extension_id, None)


def _fill():
    for path in BUILTINS:
        module, _, attribute = path.partition(":")
        register(getattr(import_module(module), attribute))
    load_entry_points(ENTRY_POINT_GROUP, register, "data extension")


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


def missing(extension_id):
    """extension_id when no installed extension has it (a job made by a plugin since uninstalled), else None."""
    _load()
    return extension_id if extension_id and extension_id not in _registry else None


def run_listing(parse_tool, argv, default_extension):
    """main() of a listing tool: the extension's list_samples() with the rest of the command line."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)   # --help is the step's own
    parser.add_argument("--job-dir")
    parser.add_argument("--extension", default=default_extension)
    known, rest = parser.parse_known_args(argv)
    extension = get_extension(known.extension)
    if type(extension).list_samples is DataExtension.list_samples:
        raise DataExtensionError(f"data extension {known.extension!r} has no listing step (list_samples)")
    extension.list_samples({"parse_tool": parse_tool, "parse_args": rest, "job_dir": known.job_dir})
    return 0
