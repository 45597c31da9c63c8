"""A third-party data extension as a plugin package would write it: images of one bright dot on noise,
labelled with the dot's (x, y) position in [0, 1] — a regression dataset made from three numbers.

Installed with pip, it registers through the entry point group `digits.plugins.data` (pyproject.toml).
"""
import numpy as np
from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import NumberRange

from digits.extensions.data import DataExtension
from digits.utils.forms import FieldError


class DotsForm(FlaskForm):
    num_images = IntegerField("Number of images", default=200, validators=[NumberRange(4, 100000)])
    image_size = IntegerField("Image size (pixels)", default=16, validators=[NumberRange(8, 256)])
    seed = IntegerField("Random seed", default=0, validators=[NumberRange(0, 2**31 - 1)])


class DotsExtension(DataExtension):
    extension_id = "test-dots"
    title = "Dots (test plugin)"
    group = "Test plugins"
    label_kind = "vector"
    form_class = DotsForm

    def plan(self, form, config):
        if form.num_images.data * form.image_size.data ** 2 > 50_000_000:
            raise FieldError("num_images", "that many images of that size would take too much room")
        return {"count": form.num_images.data, "size": form.image_size.data, "seed": form.seed.data}

    def samples(self, params, split):
        count = params["count"] if split == "train" else max(2, params["count"] // 5)
        offset = 0 if split == "train" else params["count"]
        return list(range(offset, offset + count))

    def read(self, params, sample):
        size = params["size"]
        rng = np.random.default_rng([params["seed"], sample])
        x, y = rng.integers(1, size - 1, size=2)
        image = rng.integers(0, 40, size=(size, size), dtype=np.uint8)
        image[y - 1:y + 2, x - 1:x + 2] = 255
        return image, [x / (size - 1), y / (size - 1)]

    def label_names(self, params):
        return ["x", "y"]
