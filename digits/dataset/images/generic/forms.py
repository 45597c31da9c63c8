"""The new generic image dataset form (DIGITS' field names) and its checks of the named databases.

Every path is resolved inside the allowed roots and a few records of each database are read
(prebuilt.analyze), so that a wrong folder is a form error, not a job that fails minutes later.
"""
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Optional

from digits.dataset.images.generic.prebuilt import PrebuiltError, analyze, db_name
from digits.utils.forms import DataRequired, FieldError
from digits.utils.paths import PathError, resolve_user_path

SPLITS = ("train", "val")


class GenericImageDatasetForm(FlaskForm):
    class Meta:
        csrf = False    # enforced for browsers in webapp, before any view runs

    dataset_name = StringField("Dataset name", validators=[DataRequired()])
    group_name = StringField("Group name", validators=[Optional()])
    prebuilt_train_images = StringField("Training image database", validators=[DataRequired()])
    prebuilt_train_labels = StringField("Training label database", validators=[DataRequired()])
    prebuilt_val_images = StringField("Validation image database")
    prebuilt_val_labels = StringField("Validation label database")
    prebuilt_mean_file = StringField("Mean image", description="optional .binaryproto of the training images' mean")

    def validate(self, extra_validators=None):
        super().validate(extra_validators)
        # Both or neither: half a validation set would silently train without one.
        images, labels = self.prebuilt_val_images, self.prebuilt_val_labels
        for given, missing in ((images, labels), (labels, images)):
            if _text(given) and not _text(missing):
                missing.errors = list(missing.errors) + [
                    f"{missing.label.text} is required with {given.label.text.lower()} (give both, or neither)"]
        return not self.errors


def _text(field):
    return (field.data or "").strip()


def _resolved(form, role, roots, kind):
    field = f"prebuilt_{role}"
    try:
        return resolve_user_path(_text(getattr(form, field)), roots, kind=kind)
    except PathError as exc:
        raise FieldError(field, f"{db_name(role)}: {exc}") from None


def plan(form, roots):
    """(job params, resolved mean file path or None); raises FieldError on the field at fault."""
    paths = {}
    for split in SPLITS:
        if _text(getattr(form, f"prebuilt_{split}_images")):
            paths[split] = [_resolved(form, f"{split}_{what}", roots, "dir") for what in ("images", "labels")]
    mean = _resolved(form, "mean_file", roots, "file") if _text(form.prebuilt_mean_file) else None
    try:
        checked = analyze(paths, mean)
    except PrebuiltError as exc:
        raise FieldError(f"prebuilt_{exc.role}", str(exc)) from None
    return {"paths": paths, "mean_file": mean is not None, "checked": checked}, mean
