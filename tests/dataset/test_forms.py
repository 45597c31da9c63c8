"""The dataset form on its own: DIGITS' spellings of yes/no fields, size ranges."""
import pytest
from werkzeug.datastructures import MultiDict

from digits.dataset.images.classification.forms import ImageClassificationDatasetForm


def _form(app, data):
    with app.test_request_context(method="POST"):
        form = ImageClassificationDatasetForm(formdata=MultiDict(data))
        form.validate()
        return form


@pytest.mark.parametrize("value,checked", [
    (None, True), ("", True), ("1", True), ("true", True), ("True", True), ("on", True), ("YES", True),
    ("0", False), ("false", False), ("False", False), ("off", False), ("no", False),
])
def test_textfile_shuffle_takes_digits_spellings(app, value, checked):
    form = _form(app, {"dataset_name": "x"} if value is None else {"dataset_name": "x", "textfile_shuffle": value})
    assert "textfile_shuffle" not in form.errors
    assert form.textfile_shuffle.checked is checked


def test_sizes_default_when_absent_and_zero_is_a_range_error(app):
    form = _form(app, {"dataset_name": "x"})
    assert (form.resize_width.data, form.resize_height.data) == (256, 256) and not form.errors
    form = _form(app, {"dataset_name": "x", "resize_width": "0"})
    assert form.errors["resize_width"] == ["Resize width must be between 1 and 8192 pixels"]
