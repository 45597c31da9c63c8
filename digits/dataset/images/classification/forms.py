"""The new image classification dataset form, with DIGITS' field names (REST clients post the same)."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import NumberRange, Optional, ValidationError

from digits.utils.forms import RESIZE_MODE_CHOICES, DataRequired
from digits.utils.image import DEFAULT_RESIZE_MODE
from digits.utils.routing import scheduler

# HTML sends nothing for an unchecked box, REST clients send "0"/"false": all mean False.
FALSE_VALUES = ("false", "False", "0", "", "no", "off")
MAX_SIZE = 8192


class YesNoField(SelectField):
    """A Yes/No select (so a REST client that sends nothing gets the default, as with DIGITS) that also
    takes DIGITS' other spellings: true/false, on/off, yes/no, 1/0, any case."""

    TRUE, FALSE = ("1", "true", "on", "yes", "y"), ("0", "false", "off", "no", "n")

    def __init__(self, label, default=True, **kwargs):
        super().__init__(label, choices=[("1", "Yes"), ("0", "No")], default="1" if default else "0", **kwargs)

    def process_formdata(self, valuelist):
        text = valuelist[0].strip().lower() if valuelist else ""
        if text in self.TRUE:
            self.data = "1"
        elif text in self.FALSE:
            self.data = "0"
        elif text:
            self.data = valuelist[0]  # refused by pre_validate, with the value in the message
        # "" or absent: keep the default

    def pre_validate(self, form):
        if self.data not in ("1", "0"):
            raise ValidationError(f'must be true or false (or 1/0, on/off, yes/no), got "{self.data}"')

    @property
    def checked(self):
        return self.data == "1"


def _size_field(label):
    # Not DataRequired: it calls 0 "missing". An absent field keeps the default; "" or 0 is out of range.
    return IntegerField(label, default=256, validators=[
        NumberRange(1, MAX_SIZE, message=f"{label} must be between 1 and {MAX_SIZE} pixels")])


def _greater_or_equal(other):
    def check(form, field):
        low = getattr(form, other).data
        if field.data is not None and low is not None and field.data < low:
            raise ValidationError(f"must be at least the minimum per class ({low})")
    return check


def _per_class(label, default=None, extra=()):
    return IntegerField(label, default=default, validators=[Optional(), NumberRange(min=1), *extra])


class ImageClassificationDatasetForm(FlaskForm):
    class Meta:
        csrf = False    # enforced for browsers in webapp, before any view runs

    dataset_name = StringField("Dataset name", validators=[DataRequired()])
    group_name = StringField("Group name", validators=[Optional()])

    resize_channels = SelectField("Image type", choices=[("3", "Color"), ("1", "Grayscale")], default="3")
    resize_width = _size_field("Resize width")
    resize_height = _size_field("Resize height")
    resize_mode = SelectField("Resize transformation", default=DEFAULT_RESIZE_MODE, choices=RESIZE_MODE_CHOICES)
    encoding = SelectField("Image encoding", default="png", choices=[
        ("png", "PNG (lossless)"), ("jpg", "JPEG (lossy, 90% quality)"), ("none", "None (raw pixels)")])
    backend = SelectField("DB backend", choices=[("lmdb", "LMDB")], default="lmdb")
    method = SelectField("Dataset type", default="folder", choices=[
        ("folder", "Folder"), ("textfile", "Textfiles")])
    random_seed = IntegerField("Split seed", validators=[Optional(), NumberRange(0, 2 ** 31 - 1)],
                               description="Same seed and images → same train/val/test split")

    # ----- method: folder (a server folder, or an uploaded archive of class folders)
    folder_train = StringField("Training images")
    folder_train_archive = FileField("…or upload a .zip / .tar of class folders")
    folder_pct_val = IntegerField("% for validation", default=25, validators=[Optional(), NumberRange(0, 100)])
    folder_pct_test = IntegerField("% for testing", default=0, validators=[Optional(), NumberRange(0, 100)])
    folder_train_min_per_class = _per_class("Minimum samples per class", 2)
    folder_train_max_per_class = _per_class("Maximum samples per class",
                                            extra=[_greater_or_equal("folder_train_min_per_class")])
    has_val_folder = BooleanField("Separate validation images folder", false_values=FALSE_VALUES)
    folder_val = StringField("Validation images")
    folder_val_min_per_class = _per_class("Minimum samples per class", 2)
    folder_val_max_per_class = _per_class("Maximum samples per class",
                                          extra=[_greater_or_equal("folder_val_min_per_class")])
    has_test_folder = BooleanField("Separate test images folder", false_values=FALSE_VALUES)
    folder_test = StringField("Test images")
    folder_test_min_per_class = _per_class("Minimum samples per class", 2)
    folder_test_max_per_class = _per_class("Maximum samples per class",
                                           extra=[_greater_or_equal("folder_test_min_per_class")])

    # ----- method: textfile ("path label" lists, uploaded or on the server)
    textfile_use_local_files = BooleanField("Use local files", false_values=FALSE_VALUES)
    textfile_train_images = FileField("Training images")
    textfile_local_train_images = StringField("Training images")
    textfile_train_folder = StringField("Training images folder")
    textfile_use_val = BooleanField("Validation set", default=True, false_values=FALSE_VALUES)
    textfile_val_images = FileField("Validation images")
    textfile_local_val_images = StringField("Validation images")
    textfile_val_folder = StringField("Validation images folder")
    textfile_use_test = BooleanField("Test set", default=False, false_values=FALSE_VALUES)
    textfile_test_images = FileField("Test images")
    textfile_local_test_images = StringField("Test images")
    textfile_test_folder = StringField("Test images folder")
    # A select, not a checkbox, so that REST clients get DIGITS' default (shuffle) by sending nothing.
    textfile_shuffle = YesNoField("Shuffle lines", default=True)
    textfile_labels_file = FileField("Labels")
    textfile_local_labels_file = StringField("Labels")

    def validate_folder_train(self, field):
        # Both given used to let the archive win silently; the user must say which one they mean.
        archive = self.folder_train_archive.data
        if self.method.data == "folder" and (field.data or "").strip() and getattr(archive, "filename", None):
            raise ValidationError("give a folder or an archive, not both: clear the folder or the upload")

    @staticmethod
    def cloned_archive(clone_id):
        """For the clone of a dataset made from an uploaded archive: the archive's name ("" if not
        recorded), since a browser cannot refill a file field; None for any other clone or a new form."""
        job = scheduler().get_job(clone_id) if clone_id else None
        params = (getattr(job, "extra", None) or {}).get("params") or {}
        if "--archive" not in (params.get("parse_args") or []):
            return None
        return str(params.get("archive_name") or "")

    def validate(self, extra_validators=None):
        super().validate(extra_validators)
        # Here, not as validate_folder_pct_test: Optional() skips inline validators when the field is
        # not sent, and folder_pct_val=100 alone must be refused too.
        val = 0 if self.has_val_folder.data else (self.folder_pct_val.data or 0)
        test = 0 if self.has_test_folder.data else (self.folder_pct_test.data or 0)
        if self.method.data == "folder" and val + test >= 100 and not self.folder_pct_test.errors:
            self.folder_pct_test.errors = list(self.folder_pct_test.errors) + [
                f"validation ({val}%) + test ({test}%) must leave some images for training"]
        return not self.errors
