"""View extensions (DIGITS' `digits.plugins.view`): one inference result → a page fragment plus its JSON.

    get_view(extension_id) -> ViewExtension   ViewError naming the choices for an unknown id
    views(task_type=None) -> [ViewExtension]  built-ins first, then plugins; those that apply to a task type
    default_view(task_type) -> ViewExtension  classification: the top-N bars; others: the raw data
    choose(extension_id, task_type)           the asked view (None/"": the default); ViewError if it does
                                              not apply to the task type
    with_view(view, result, context) -> dict  a JSON answer: the result plus the view's keys
    page_fragment(view, result, context)      the view's HTML, ready for a page (Markup)
    register(extension) / unregister(extension_id)

Built-ins (digits.extensions.view.raw_data, image_output, top_n, bounding_boxes, segmentation), then the
entry points of the group `digits.plugins.view` (each loads a ViewExtension subclass or instance), collected
on first use. This
package runs in the web process, which never loads torch: an extension works on the worker's JSON
result (numbers, strings, data URIs), with numpy and PIL at most.

A result is one image's (or record's) answer from the worker: {"outputs": {blob: values}, ...the task
type's keys ("values", "labels", "predictions")}. Its context says what the result is about:
    name         what the user knows the input by (upload name, path, database key)
    index        its position in the answer (unique ids within a page)
    task_type    the model's task type name
    labels       the model's labels (may be empty)
    input_image  the input as the network saw it (resized), a PNG data URI — for extensions that set
                 wants_input_image; None otherwise. For a model with a geometry (detection), the original
                 image instead (a database record as stored): the one its answer's boxes are in; for a
                 segmentation model too: the one its mask is at
    input_shape  [channels, height, width] the network takes (None when unknown)

Writing an extension: subclass ViewExtension and set extension_id (lower-case, stable: forms and JSON
answers carry it), title, task_types; override json(), and page_data() when the page needs more than
the JSON. fragment() renders `template` (default templates/extensions/view/<id>.html) with view,
result, context and data; a plugin shipping its own template text overrides fragment(), e.g. with
flask.render_template_string.
"""
import importlib

from markupsafe import Markup

from digits.utils.plugins import LoadOnce, load_entry_points


ENTRY_POINT_GROUP = "digits.plugins.view"
BUILTINS = ("digits.extensions.view.raw_data", "digits.extensions.view.image_output",
            "digits.extensions.view.top_n", "digits.extensions.view.bounding_boxes",
            "digits.extensions.view.segmentation")
RAW_DATA = "all-raw-data"

_views = {}      # extension_id -> ViewExtension, in registration order


class ViewError(ValueError):
    """An unknown view extension, or one that does not apply to the model; the message says which apply."""


class ViewExtension:
    """One way to show an inference result; subclass it and set/override what the module docstring lists."""
    extension_id = ""
    title = ""
    task_types = None            # task type names it applies to; None: all
    wants_input_image = False    # the worker then sends the network-sized input as a PNG data URI

    @property
    def template(self):
        return f"extensions/view/{self.extension_id}.html"

    def applies_to(self, task_type):
        return self.task_types is None or task_type in self.task_types

    def json(self, result, context):
        """JSON-ready keys this view adds to the answer (a result's own keys are never replaced)."""
        return {}

    def page_data(self, result, context):
        """What the fragment's template gets as `data`: the JSON keys unless the page needs more."""
        return self.json(result, context)

    def fragment(self, result, context):
        from flask import render_template
        return Markup(render_template(self.template, view=self, result=result, context=context,
                                      data=self.page_data(result, context)))

    def __repr__(self):
        return f"<ViewExtension {self.extension_id}>"


def _fill():
    for module in BUILTINS:
        register(importlib.import_module(module).VIEW)
    load_entry_points(ENTRY_POINT_GROUP, register, "view extension")


_load = LoadOnce(_fill)


def register(extension):
    """Adds a view extension (an instance, or a subclass: instantiated); returns the instance.
    ValueError when it has no lower-case id and title, or its id is taken."""
    _load()
    if isinstance(extension, type):
        extension = extension()
    ext_id = extension.extension_id
    if not ext_id or ext_id != ext_id.lower() or not extension.title:
        raise ValueError(f"view extension {extension!r} needs a lower-case extension_id and a title")
    if ext_id in _views:
        raise ValueError(f'view extension "{ext_id}" is already registered')
    _views[ext_id] = extension
    return extension


def unregister(extension_id):
    _load()
    _views.pop(extension_id, None)


def views(task_type=None):
    _load()
    return [v for v in _views.values() if task_type is None or v.applies_to(task_type)]


def get_view(extension_id):
    _load()
    try:
        return _views[extension_id]
    except (KeyError, TypeError):
        raise ViewError(f"unknown view extension {extension_id!r} (use one of: {', '.join(_views)})") from None


def default_view(task_type):
    """The task type's own choice (TaskType.default_view); the raw data for a task type we do not know."""
    from digits.model.tasks import TASK_TYPES
    task = TASK_TYPES.get(task_type)
    return get_view(task.default_view if task else RAW_DATA)


def choose(extension_id, task_type):
    if not extension_id:
        return default_view(task_type)
    view = get_view(extension_id)
    if not view.applies_to(task_type):
        names = ", ".join(v.extension_id for v in views(task_type))
        raise ViewError(f"view extension {extension_id!r} does not apply to {task_type} models (use one of: {names})")
    return view


def page_fragment(view, result, context):
    # fragment() answers HTML; a plugin's may be a plain str (render_template_string), which the page
    # would otherwise escape
    return Markup(view.fragment(result, context))


def with_view(view, result, context):
    answer = dict(result)
    for key, value in view.json(result, context).items():
        answer.setdefault(key, value)
    return answer
