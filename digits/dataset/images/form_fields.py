"""What the image dataset extensions' forms share: server paths resolved inside the allowed roots and
checked quickly (a few directory entries, never the files themselves), and width/height pairs.

    text(field) -> str                          the field's text, stripped
    add_error(field, message)                   one more error on a field (in validate())
    check_pairs(form, *prefixes)                "<prefix>_image_width/height": both or neither
    size(form, prefix) -> [height, width] | None
    resolved(form, name, roots, kind, content=None) -> path
        the field's path (kind "dir" or "file"); content (what, wanted(name)) also asks the folder to hold
        one file that wanted accepts. FieldError names the field and the problem.
"""
from digits.dataset.images.folders import first_file
from digits.utils.forms import FieldError
from digits.utils.paths import PathError, resolve_user_path


def text(field):
    return (field.data or "").strip()


def add_error(field, message):
    field.errors = list(field.errors) + [message]


def check_pairs(form, *prefixes):
    for prefix in prefixes:
        width, height = form[f"{prefix}_image_width"], form[f"{prefix}_image_height"]
        if bool(width.data) != bool(height.data) and not (width.errors or height.errors):
            add_error(height if width.data else width, "give both the width and the height (or neither)")


def size(form, prefix):
    width, height = form[f"{prefix}_image_width"].data, form[f"{prefix}_image_height"].data
    return [height, width] if width and height else None


def resolved(form, name, roots, kind, content=None):
    try:
        path = resolve_user_path(text(form[name]), roots, kind=kind)
    except PathError as exc:
        raise FieldError(name, str(exc)) from None
    if content and first_file(path, content[1]) is None:
        raise FieldError(name, f"{text(form[name])} holds no {content[0]}")
    return path
