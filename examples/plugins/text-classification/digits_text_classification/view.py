"""The text view ("text-top-classes", the default of models trained on text classification datasets): the
text that was classified, with its top classes as bars.

JSON keys: "text" (what the network read, decoded from its input, so that a database record shows its
text too; the request's own text when it is that) and "top_classes"
([{"label", "percent"}], most likely first)."""
import base64

from flask import render_template_string

from digits.extensions.view import ViewExtension
from digits.utils.image import LoadImageError, decode_image_bytes, to_array
from digits_text_classification.encoding import INDEX, decode

TOP = 5
TEMPLATE = """
<div class="view-text-top-classes" data-view="{{ view.extension_id }}" style="max-width: 48rem">
  <blockquote class="border-start ps-2 text-break" id="text-{{ context.index }}">{{ data.text }}</blockquote>
  <table class="table table-sm" id="top-classes-{{ context.index }}">
  {% for entry in data.top_classes %}
    <tr><td style="width: 30%">{{ entry.label }}</td>
      <td><div class="progress" role="progressbar" aria-valuenow="{{ entry.percent }}" aria-valuemin="0" aria-valuemax="100">
        <div class="progress-bar" style="width: {{ entry.percent }}%">{{ "%.1f"|format(entry.percent) }}%</div></div></td></tr>
  {% endfor %}
  </table>
</div>"""


def _as_read(text):
    """The text as decode() gives it back: lower-cased, characters outside the alphabet as '?'."""
    return "".join(c if c in INDEX else "?" for c in text.lower())


def _read_input(data_uri):
    try:
        return decode(to_array(decode_image_bytes(base64.b64decode(data_uri.partition(",")[2]))))
    except (LoadImageError, ValueError, TypeError):
        return None


class TextTopClasses(ViewExtension):
    extension_id = "text-top-classes"
    title = "Text with its top classes"
    task_types = ("classification",)
    wants_input_image = True

    def json(self, result, context):
        image, name = context.get("input_image"), context.get("name") or ""
        read = _read_input(image) if image else None
        # the request's own text (its case, its accents, past max_length) when it is what the network read
        text = name if not read or _as_read(name).startswith(read) else read
        top = [{"label": label, "percent": float(percent)} for label, percent in (result.get("predictions") or [])[:TOP]]
        return {"text": text, "top_classes": top}

    def fragment(self, result, context):
        return render_template_string(TEMPLATE, view=self, context=context, data=self.json(result, context))
