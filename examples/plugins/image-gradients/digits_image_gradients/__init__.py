"""Image gradients, as a DIGITS plugin (after DIGITS' gradient regression example): generated grayscale
images of a linear gradient, each labelled with its two slopes (a, b) in [-1, 1] — the pixel at x, y (in
[-1, 1] across the image) is 127.5 + 63.75·(a·x + b·y). A regression model learns to tell the slopes from
the image; the plugin's view draws the gradient a model predicts beside the image it saw.

Nothing is read from disk: the form says how many images of which size, and a seed.
"""
import numpy as np
from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import NumberRange, Optional

from digits.extensions.data import DataExtension
from digits.utils.forms import FieldError, value_or_default

MAX_PIXELS = 100_000_000


def gradient_image(a, b, width, height):
    """uint8 height×width image of the gradient of slopes (a, b)."""
    x = np.linspace(-1.0, 1.0, width)[None, :]
    y = np.linspace(-1.0, 1.0, height)[:, None]
    return np.clip(np.rint(127.5 + 63.75 * (a * x + b * y)), 0, 255).astype(np.uint8)


class GradientsForm(FlaskForm):
    train_image_count = IntegerField("Training images", default=1000, validators=[Optional(),
                                     NumberRange(10, 1_000_000)],
                                     description="each a gradient of random slopes a, b in [-1, 1], labelled with them")
    val_image_count = IntegerField("Validation images", default=250, validators=[Optional(),
                                   NumberRange(0, 1_000_000)])
    image_width = IntegerField("Image width", default=32, validators=[Optional(), NumberRange(8, 1024)])
    image_height = IntegerField("Image height", default=32, validators=[Optional(), NumberRange(8, 1024)])
    seed = IntegerField("Random seed", default=0, validators=[Optional(), NumberRange(0, 2**31 - 1)],
                        description="the same seed makes the same images")


class GradientsExtension(DataExtension):
    extension_id = "image-gradients"
    title = "Gradients (generated)"
    group = "Images"
    label_kind = "vector"
    form_class = GradientsForm
    default_view = "image-gradients"

    def plan(self, form, config):
        given = {name: value_or_default(form[name]) for name in ("train_image_count", "val_image_count",
                                                                  "image_width", "image_height", "seed")}
        count = given["train_image_count"] + given["val_image_count"]
        if count * given["image_width"] * given["image_height"] > MAX_PIXELS:
            raise FieldError("train_image_count", "that many images of that size would take too much room")
        return {"counts": {"train": given["train_image_count"], "val": given["val_image_count"]},
                "width": given["image_width"], "height": given["image_height"], "seed": given["seed"]}

    def splits(self, params):
        return ("train", "val") if params["counts"]["val"] else ("train",)

    def samples(self, params, split):
        rng = np.random.default_rng([params["seed"], 0 if split == "train" else 1])
        slopes = rng.uniform(-1.0, 1.0, size=(params["counts"][split], 2))
        return [{"path": f"{split} gradient {i}", "a": float(a), "b": float(b)} for i, (a, b) in enumerate(slopes)]

    def read(self, params, sample):
        return gradient_image(sample["a"], sample["b"], params["width"], params["height"]), [sample["a"], sample["b"]]

    def label_names(self, params):
        return ["a (x slope)", "b (y slope)"]
