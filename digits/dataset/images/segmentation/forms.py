"""The new segmentation dataset form (DIGITS' image-segmentation fields and defaults, plus an optional
resize), and plan(): its paths resolved inside the allowed roots, the class files read and checked, and
the first label image's palette taken (a few directory entries and small files, never the whole data).

params (what the dataset tool gets back):
    {"train": {"features", "labels"}, "val": {"features", "labels"} | None, "folder_pct_val", "seed",
     "channel_conversion", "resize": [H, W] | None, "colormap_method": "label" | "textfile",
     "class_names": [name] | None, "colormap": [[r, g, b]] | None (textfile), "palette": [[r, g, b]] | None
     (label: the first label image's palette; None for grayscale labels)}
"""
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import InputRequired, NumberRange, Optional

from digits.dataset.images.folders import first_file
from digits.dataset.images.form_fields import add_error, check_pairs, resolved, size, text
from digits.dataset.images.segmentation import class_files, labels
from digits.utils.forms import DataRequired, FieldError
from digits.utils.image import LoadImageError, is_image_file
from digits.utils.paths import is_inside

MAX_SIZE = 16384
SPLIT_SEED = 0   # in params, so a dataset built again (Clone) has the same split
FALSE_VALUES = (False, "false", "False", "", "0", "no", "off", "n")   # scripts post has_val_folder=0
IMAGES = ("images", is_image_file)
LABEL_HELP = ("one label image per feature image, of the same name (the extension may differ) and size: "
              "palette or grayscale images whose pixel values are class ids (255 = ignore), or RGB images "
              "with a colormap file")


class SegmentationForm(FlaskForm):
    feature_folder = StringField("Feature image folder", validators=[DataRequired()],
                                 description="the images to segment; searched in subfolders too")
    label_folder = StringField("Label image folder", validators=[DataRequired()], description=LABEL_HELP)
    folder_pct_val = IntegerField("% for validation", default=10, validators=[InputRequired(), NumberRange(0, 100)],
                                  description="set apart from the training images (the same ones every time)")
    has_val_folder = BooleanField("Separate validation images", default=False, false_values=FALSE_VALUES)
    validation_feature_folder = StringField("Validation feature image folder", validators=[Optional()])
    validation_label_folder = StringField("Validation label image folder", validators=[Optional()])
    channel_conversion = SelectField("Channel conversion", default="none",
                                     choices=[("RGB", "RGB"), ("L", "Grayscale"), ("none", "None")],
                                     description="of the feature images; label images are not affected")
    class_labels_file = StringField("Class labels (optional)", validators=[Optional()],
                                    description="a text file: line i names class i−1 (class 0 on line 1)")
    colormap_method = SelectField("Color map specification", default="label",
                                  choices=[("label", "From label image"), ("textfile", "From text file")],
                                  description="From label image: the palette (or gray levels) of palette or "
                                              "grayscale labels. From text file: RGB labels and a colormap file")
    colormap_text_file = StringField("Color map file", validators=[Optional()],
                                     description="line i: \"R G B\" (three integers 0–255), the colour of class "
                                                 "i−1 in the RGB label images")
    resize_image_width = IntegerField("Resize image width", validators=[Optional(), NumberRange(1, MAX_SIZE)],
                                      description="images resized (bilinear) and labels (nearest) to this size; "
                                                  "empty: all images must be of one size")
    resize_image_height = IntegerField("Resize image height", validators=[Optional(), NumberRange(1, MAX_SIZE)])

    def validate(self, extra_validators=None):
        super().validate(extra_validators)
        check_pairs(self, "resize")
        if self.has_val_folder.data:
            for name in ("validation_feature_folder", "validation_label_folder"):
                if not text(self[name]):
                    add_error(self[name], "required with separate validation images")
        elif self.folder_pct_val.data == 100:
            add_error(self.folder_pct_val, "100% for validation leaves no training images")
        if self.colormap_method.data == "textfile" and not text(self.colormap_text_file):
            add_error(self.colormap_text_file, "a colormap file is required to read RGB label images")
        return not self.errors


def _folders(form, roots, features, labels_field):
    pair = {"features": resolved(form, features, roots, "dir", IMAGES),
            "labels": resolved(form, labels_field, roots, "dir", IMAGES)}
    if is_inside(pair["features"], pair["labels"]) or is_inside(pair["labels"], pair["features"]):
        # both are searched in subfolders: the one folder's images would also be the other's
        raise FieldError(labels_field, "the label images must be in a folder of their own, neither the feature "
                                       "folder nor one inside or around it")
    return pair


def _class_file(form, name, roots, read):
    try:
        return read(resolved(form, name, roots, "file"))
    except class_files.ClassFileError as exc:
        raise FieldError(name, f"{text(form[name])}: {exc}") from None


def _first_palette(form, folder):
    """The palette rows of the training label folder's first label image (None: grayscale)."""
    path = first_file(folder, is_image_file)
    try:
        image = labels.open_label(path)
    except LoadImageError as exc:
        raise FieldError("label_folder", f"the first label image gives the colours, and {exc}") from None
    if image.mode not in ("P",) + labels.GRAYSCALE_MODES:
        raise FieldError("label_folder", f"the first label image, {path}, is a {image.mode} image: with colormap "
                                         "\"From label image\" the labels must be palette or grayscale images (for "
                                         "RGB labels choose \"From text file\" and give a colormap file)")
    return labels.palette_rows(image)


def plan(form, roots):
    separate = bool(form.has_val_folder.data)
    params = {"train": _folders(form, roots, "feature_folder", "label_folder"), "val": None,
              "folder_pct_val": 0 if separate else form.folder_pct_val.data, "seed": SPLIT_SEED,
              "channel_conversion": form.channel_conversion.data, "resize": size(form, "resize"),
              "colormap_method": form.colormap_method.data, "class_names": None, "colormap": None, "palette": None}
    if separate:
        params["val"] = _folders(form, roots, "validation_feature_folder", "validation_label_folder")
    if text(form.class_labels_file):
        params["class_names"] = _class_file(form, "class_labels_file", roots, class_files.read_names)
    if params["colormap_method"] == "textfile":
        params["colormap"] = _class_file(form, "colormap_text_file", roots, class_files.read_colormap)
        names, colours = params["class_names"], params["colormap"]
        if names and len(names) != len(colours):
            raise FieldError("class_labels_file", f"it names {len(names)} classes, but the colormap file gives "
                                                  f"{len(colours)} colours (line i of both is class i−1)")
    else:
        params["palette"] = _first_palette(form, params["train"]["labels"])
    return params
