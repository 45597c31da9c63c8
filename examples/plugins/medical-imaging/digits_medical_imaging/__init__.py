"""Medical imaging, as a DIGITS plugin in the spirit of DIGITS' Sunnybrook one: a folder of images (DICOM
read with pydicom, or PNG/JPEG...) and a folder of their contour or mask files (digits_medical_imaging.
sources) become a binary segmentation dataset — background and the outlined object — at one size.

Its models train with the built-in segmentation task type and networks (e.g. unet_small); their results
show as the predicted mask over the image (view "medical-mask-overlay").
"""
import os

import numpy as np
import PIL.Image
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import NumberRange, Optional

from digits.extensions.data import DataExtension, SkipSample
from digits.utils.forms import DataRequired, FieldError, value_or_default
from digits.utils.image import LoadImageError
from digits.utils.paths import PathError, resolve_user_path
from digits_medical_imaging import sources

SPLIT_SEED = 0
COLORMAP = [[0, 0, 0], [255, 0, 0]]


class MedicalForm(FlaskForm):
    image_folder = StringField("Image folder", validators=[DataRequired()],
                               description="DICOM (.dcm) or PNG/JPEG images; searched in subfolders too")
    label_folder = StringField("Contour / mask folder", validators=[DataRequired()],
                               description="per image <stem>*.txt contour files (\"x y\" per line) or a mask image "
                                           "<stem>.png (non-zero = object); images without one are left out")
    contour_filter = StringField("Contour file names contain", validators=[Optional()],
                                 description="e.g. icontour for Sunnybrook's inner contours; empty: every .txt file")
    class_name = StringField("Object name", default="contour", validators=[DataRequired()])
    pct_val = IntegerField("% for validation", default=10, validators=[Optional(), NumberRange(0, 90)])
    resize_width = IntegerField("Resize width", validators=[Optional(), NumberRange(8, 4096)],
                                description="images (bilinear) and masks (nearest); empty: all images of one size")
    resize_height = IntegerField("Resize height", validators=[Optional(), NumberRange(8, 4096)])


def _folder(form, field, roots):
    try:
        return resolve_user_path(form[field].data, roots, kind="dir")
    except PathError as exc:
        raise FieldError(field, str(exc)) from None


class MedicalImagingExtension(DataExtension):
    extension_id = "medical-contours"
    title = "Medical images with contours"
    group = "Medical"
    label_kind = "mask"
    form_class = MedicalForm
    default_view = "medical-mask-overlay"

    def plan(self, form, config):
        roots = config["allowed_roots"]
        sizes = (form.resize_height.data, form.resize_width.data)
        if any(sizes) and not all(sizes):
            raise FieldError("resize_height", "give both resize sizes, or neither")
        params = {"images": _folder(form, "image_folder", roots), "labels": _folder(form, "label_folder", roots),
                  "contour_filter": (form.contour_filter.data or "").strip(), "class_name": form.class_name.data.strip(),
                  "pct_val": value_or_default(form.pct_val), "seed": SPLIT_SEED, "resize": list(sizes) if all(sizes) else None}
        found = sources.pairs(params)
        if not found:
            raise FieldError("label_folder", "no image of the image folder has a contour or mask file here (named "
                                             "after the image: IM-0001.png, IM-0001-icontour-manual.txt)")
        if any(sources.is_dicom(p["path"]) for p in found):
            try:
                import pydicom  # noqa: F401
            except ImportError:
                raise FieldError("image_folder", "DICOM images need pydicom: pip install pydicom") from None
        return params

    def splits(self, params):
        return ("train", "val") if params["pct_val"] else ("train",)

    def samples(self, params, split):
        found = sources.pairs(params)
        order = np.random.default_rng(params["seed"]).permutation(len(found))
        val = set(order[:len(found) * params["pct_val"] // 100].tolist())
        return [p for i, p in enumerate(found) if (i in val) == (split == "val")]

    def read(self, params, sample):
        try:
            image = sources.read_image(sample["path"])
            mask = sources.read_mask(sample["labels"], image.shape)
        except (LoadImageError, OSError) as exc:
            raise SkipSample(str(exc)) from None
        except ValueError as exc:   # a bad contour file, a DICOM that is not one image
            raise SkipSample(f"{os.path.basename(sample['path'])}: {exc}") from None
        if params["resize"]:
            height, width = params["resize"]
            image = np.asarray(PIL.Image.fromarray(image).resize((width, height), PIL.Image.BILINEAR))
            mask = np.asarray(PIL.Image.fromarray(mask).resize((width, height), PIL.Image.NEAREST))
        return image, mask

    def label_names(self, params):
        return ["background", params["class_name"]]

    def info(self, params):
        return {"colormap": COLORMAP, "resize": params["resize"]}
