"""The new object detection dataset form (DIGITS' fields and defaults), and plan(): its paths resolved inside
the allowed roots and checked quickly (a few directory entries, never the label files themselves)."""
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import InputRequired, NumberRange, Optional

from digits.dataset.images.detection.classes import parse_custom
from digits.dataset.images.detection.kitti import LABEL_EXTENSION
from digits.dataset.images.form_fields import add_error as _error, check_pairs, resolved as _resolved, size as _size
from digits.dataset.images.form_fields import text as _text
from digits.utils.forms import DataRequired, FieldError
from digits.utils.image import is_image_file

SPLITS = ("train", "val")
MAX_SIZE = 16384


class ObjectDetectionForm(FlaskForm):
    train_image_folder = StringField("Training image folder", validators=[DataRequired()],
                                     description="images of any size; searched in subfolders too")
    train_label_folder = StringField("Training label folder", validators=[Optional()],
                                     description="one KITTI .txt file per image, named after it")
    train_annotations_file = StringField("Training annotations file (COCO)", validators=[Optional()],
                                         description="instead of a label folder: a COCO instances JSON")
    val_image_folder = StringField("Validation image folder", validators=[Optional()])
    val_label_folder = StringField("Validation label folder", validators=[Optional()])
    val_annotations_file = StringField("Validation annotations file (COCO)", validators=[Optional()])
    padding_image_width = IntegerField("Padding image width", default=1248,
                                       validators=[Optional(), NumberRange(0, MAX_SIZE)],
                                       description="images are padded with zeros at the right and bottom to "
                                                   "this size; empty or 0: no padding")
    padding_image_height = IntegerField("Padding image height", default=384,
                                        validators=[Optional(), NumberRange(0, MAX_SIZE)])
    resize_image_width = IntegerField("Resize image width", validators=[Optional(), NumberRange(1, MAX_SIZE)],
                                      description="then resized (bilinear) to this size, boxes with them; "
                                                  "empty: no resize")
    resize_image_height = IntegerField("Resize image height", validators=[Optional(), NumberRange(1, MAX_SIZE)])
    channel_conversion = SelectField("Channel conversion", default="RGB",
                                     choices=[("RGB", "RGB"), ("L", "Grayscale"), ("none", "None")])
    val_min_box_size = IntegerField("Minimum box size (in pixels) for validation set", default=25,
                                    validators=[InputRequired(), NumberRange(min=0)],
                                    description="validation objects narrower or shorter than this become "
                                                "DontCare; 0: keep all")
    custom_classes = StringField("Custom classes", validators=[Optional()],
                                 description="comma-separated, ids from 0 in order, the first (id 0) being "
                                             "DontCare, e.g. dontcare,car,person; names not listed become "
                                             "DontCare. Empty: DontCare, then the classes of the training labels")

    def validate(self, extra_validators=None):
        super().validate(extra_validators)
        check_pairs(self, "padding", "resize")
        for split in SPLITS:
            labels, annotations = self[f"{split}_label_folder"], self[f"{split}_annotations_file"]
            if _text(labels) and _text(annotations):
                _error(annotations, "give a label folder or an annotations file, not both")
            elif split == "train" and not (_text(labels) or _text(annotations)):
                _error(labels, "a label folder (KITTI) or an annotations file (COCO) is required")
            elif split == "val" and bool(_text(self.val_image_folder)) != bool(_text(labels) or _text(annotations)):
                _error(labels if _text(self.val_image_folder) else self.val_image_folder,
                       "the validation set needs both its images and their labels (a label folder or an "
                       "annotations file)")
        return not self.errors


def plan(form, roots):
    params = {"geometry": {"pad": _size(form, "padding"), "resize": _size(form, "resize"),
                           "channel_conversion": form.channel_conversion.data},
              "val_min_box_size": form.val_min_box_size.data, "custom_classes": None}
    if _text(form.custom_classes):
        try:
            params["custom_classes"] = parse_custom(form.custom_classes.data)
        except ValueError as exc:
            raise FieldError("custom_classes", str(exc)) from None
    for split in SPLITS:
        if not _text(form[f"{split}_image_folder"]):
            continue
        source = {"images": _resolved(form, f"{split}_image_folder", roots, "dir", ("images", is_image_file))}
        if _text(form[f"{split}_annotations_file"]):
            source["annotations"] = _resolved(form, f"{split}_annotations_file", roots, "file")
        else:
            source["labels"] = _resolved(form, f"{split}_label_folder", roots, "dir",
                                         (f"{LABEL_EXTENSION} label files",
                                          lambda name: name.lower().endswith(LABEL_EXTENSION)))
        params[split] = source
    return params
