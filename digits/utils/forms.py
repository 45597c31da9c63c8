"""Form helpers shared by the dataset and model forms."""
from wtforms.validators import DataRequired as _DataRequired

from digits.utils.image import RESIZE_MODES

# What the forms call each resize mode, in RESIZE_MODES' order (a new mode without a name fails here).
RESIZE_MODE_CHOICES = [(mode, {"squash": "Squash", "crop": "Crop", "fill": "Fill",
                               "half_crop": "Half crop, half fill"}[mode]) for mode in RESIZE_MODES]


class DataRequired(_DataRequired):
    """DataRequired with a message that names the field, since API clients see only the field key."""

    def __call__(self, form, field):
        if not self.message:
            self.message = f"{field.label.text} is required"
        super().__call__(form, field)


class FieldError(ValueError):
    """A problem a view finds beyond the form's own checks (a path, a snapshot epoch, a crop size),
    reported on the field it belongs to."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field

    def attach_to(self, form):
        getattr(form, self.field).errors.append(str(self))


def float_list(text):
    return [float(v) for v in str(text or "").replace(" ", "").split(",") if v != ""]


def int_list(text):
    return [int(v) for v in str(text or "").replace(" ", "").split(",") if v != ""]


def form_data_dict(form_data):
    """A request's form as a plain dict (lists kept for multi-value fields) to store for cloning."""
    return {key: (values if len(values) > 1 else values[0]) for key, values in form_data.lists()}


def value_or_default(field):
    """A field's value, or its default when the request left it out or empty: REST clients post only the
    fields they change (a plugin's optional fields use it, docs/plugins.md)."""
    return field.default if field.data is None or field.data == "" else field.data
