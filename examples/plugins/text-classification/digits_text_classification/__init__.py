"""Text classification, as a DIGITS plugin: a CSV file of `label,text` rows becomes a dataset of
character-level tensors (digits_text_classification.encoding) labelled with class ids, which the plugin's
1-D CNN (network "char_cnn", entry point digits.plugins.network) trains on as a classification model; its
results show as the text with its top classes (view "text-top-classes"), and a model page takes text to
classify (inference_fields).

CSV: one sample per row, the label first and the text after it (a text with commas is quoted, or its
commas are taken as part of it); a first row "label,text" is a header and skipped. The classes are the
training file's labels, sorted. Validation samples come from a second file, or are a share of the
training rows set apart (the same ones each time).
"""
import csv

import numpy as np
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import NumberRange, Optional

from digits.extensions.data import DataExtension, SkipSample
from digits.utils.forms import DataRequired, FieldError, value_or_default
from digits.utils.paths import PathError, resolve_user_path
from digits_text_classification.encoding import encode

MAX_ROWS = 1_000_000
SPLIT_SEED = 0


class TextForm(FlaskForm):
    train_file = StringField("Training CSV file", validators=[DataRequired()],
                             description="a file on the server of label,text rows (UTF-8)")
    val_file = StringField("Validation CSV file (optional)", validators=[Optional()],
                           description="rows of the same form; empty: a share of the training rows")
    pct_val = IntegerField("% for validation", default=10, validators=[Optional(), NumberRange(0, 90)],
                           description="of the training rows, when there is no validation file")
    max_length = IntegerField("Characters per sample", default=256, validators=[Optional(),
                              NumberRange(8, 4096)], description="longer texts are cut, shorter ones padded")


def read_rows(path):
    """[(label, text, line)] of a CSV file (line: where the row starts in the file, as an editor counts);
    ValueError naming the line for a row without both."""
    rows = []
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader, line = csv.reader(f), 1
        for row in reader:
            number, line = line, reader.line_num + 1   # a quoted text may span lines
            if not row or not any(cell.strip() for cell in row):
                continue
            if number == 1 and [c.strip().lower() for c in row[:2]] == ["label", "text"]:
                continue
            if len(row) < 2 or not row[0].strip():
                raise ValueError(f"line {number}: expected label,text, got {','.join(row)[:80]!r}")
            rows.append((row[0].strip(), ",".join(row[1:]).strip(), number))
            if len(rows) > MAX_ROWS:
                raise ValueError(f"more than {MAX_ROWS} rows")
    return rows


class TextClassificationExtension(DataExtension):
    extension_id = "text-classification"
    title = "Text classification (CSV)"
    group = "Text"
    label_kind = "class"
    form_class = TextForm
    default_view = "text-top-classes"
    inference_fields = (("text", "Text to classify"),)

    def plan(self, form, config):
        params = {"max_length": value_or_default(form.max_length), "pct_val": value_or_default(form.pct_val),
                  "seed": SPLIT_SEED}
        for field in ("train_file", "val_file"):
            value = (form[field].data or "").strip()
            if not value:
                params[field] = None
                continue
            try:
                params[field] = resolve_user_path(value, config["allowed_roots"], kind="file")
                rows = read_rows(params[field])
            except PathError as exc:
                raise FieldError(field, str(exc)) from None
            except UnicodeDecodeError as exc:   # a ValueError too, whose own message names no file or fix
                raise FieldError(field, f"{value} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
                                        f"position {exc.start}): save it as UTF-8") from None
            except (OSError, ValueError, csv.Error) as exc:
                raise FieldError(field, f"{value}: {exc}") from None
            if not rows:
                raise FieldError(field, f"{value} has no label,text rows")
            if field == "train_file":
                params["classes"] = sorted({label for label, _text, _line in rows})
        if len(params["classes"]) < 2:
            raise FieldError("train_file", "the training rows name one class; a classifier needs two or more")
        return params

    def splits(self, params):
        return ("train", "val") if params["val_file"] or params["pct_val"] else ("train",)

    def samples(self, params, split):
        if params["val_file"]:
            path = params["train_file" if split == "train" else "val_file"]
            rows, keep = read_rows(path), None
        else:   # a fixed share of the training rows is the validation split
            path, rows = params["train_file"], read_rows(params["train_file"])
            order = np.random.default_rng(params["seed"]).permutation(len(rows))
            val = set(order[:len(rows) * params["pct_val"] // 100].tolist())
            keep = (lambda i: i in val) if split == "val" else (lambda i: i not in val)
        return [{"path": f"{path}, line {line}", "label": label, "text": text}
                for i, (label, text, line) in enumerate(rows) if keep is None or keep(i)]

    def read(self, params, sample):
        try:
            class_id = params["classes"].index(sample["label"])
        except ValueError:
            raise SkipSample(f"label {sample['label']!r} is not one of the training file's classes") from None
        if not sample["text"]:
            raise SkipSample("empty text")
        return encode(sample["text"], params["max_length"]), class_id

    def label_names(self, params):
        return params["classes"]

    def info(self, params):
        return {"max_length": params["max_length"]}

    def inference_input(self, params, fields):
        return encode(fields["text"], params["max_length"])
