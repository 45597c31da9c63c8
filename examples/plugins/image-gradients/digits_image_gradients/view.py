"""The gradient view ("image-gradients", the default of models trained on gradient datasets): the image the
network saw beside the gradient of the slopes it predicted, drawn the way the dataset draws them, with an
arrow pointing up the predicted slope.

JSON keys: "gradient" ({"a", "b"}: the predicted slopes) and "gradient_png" (a PNG data URI of the
predicted gradient at the input's size)."""
import base64
import math

from flask import render_template_string

from digits.extensions.view import ViewExtension
from digits.utils.image import encode_image
from digits_image_gradients import gradient_image

SHOWN = 128   # pixels the images are shown at, on their longer side
TEMPLATE = """
<div class="view-image-gradients d-flex gap-3 align-items-center" data-view="{{ view.extension_id }}">
  {% if context.input_image %}<figure class="figure"><img src="{{ context.input_image }}" width="{{ shown[0] }}" height="{{ shown[1] }}"
    class="border" style="image-rendering: pixelated" alt="input"><figcaption class="figure-caption">input</figcaption></figure>{% endif %}
  <figure class="figure"><img src="{{ data.gradient_png }}" width="{{ shown[0] }}" height="{{ shown[1] }}" class="border"
    id="gradient-{{ context.index }}" alt="predicted gradient"><figcaption class="figure-caption">predicted:
    a = {{ "%.3f"|format(data.gradient.a) }}, b = {{ "%.3f"|format(data.gradient.b) }}</figcaption></figure>
  <svg width="{{ size }}" height="{{ size }}" viewBox="-1 -1 2 2" aria-label="slope direction">
    <circle r="0.95" fill="none" stroke="#ccc" stroke-width="0.02"/>
    <line x1="0" y1="0" x2="{{ arrow[0] }}" y2="{{ arrow[1] }}" stroke="#d33" stroke-width="0.06"/>
    <circle cx="{{ arrow[0] }}" cy="{{ arrow[1] }}" r="0.07" fill="#d33"/></svg>
</div>"""


def shown_size(input_shape):
    """(width, height) the images are shown at: SHOWN on their longer side, in the input's proportions."""
    _channels, height, width = input_shape or (1, SHOWN, SHOWN)
    scale = SHOWN / max(height, width)
    return max(1, round(width * scale)), max(1, round(height * scale))


class GradientView(ViewExtension):
    extension_id = "image-gradients"
    title = "Predicted gradient"
    task_types = ("regression",)
    wants_input_image = True

    def json(self, result, context):
        values = list(result.get("values") or [])
        if len(values) != 2:
            return {}
        a, b = (float(v) for v in values)
        _channels, height, width = context.get("input_shape") or (1, 32, 32)
        png = encode_image(gradient_image(a, b, width, height), "png")
        return {"gradient": {"a": a, "b": b}, "gradient_png": "data:image/png;base64," + base64.b64encode(png).decode()}

    def fragment(self, result, context):
        data = self.json(result, context)
        if not data:
            return "<p class='text-muted'>Not a gradient model's answer: it has no two values.</p>"
        a, b = data["gradient"]["a"], data["gradient"]["b"]
        length = math.hypot(a, b) or 1.0
        arrow = (0.9 * a / max(length, 1.0), 0.9 * b / max(length, 1.0))   # brighter is up the slope (y down)
        return render_template_string(TEMPLATE, view=self, context=context, data=data, size=SHOWN, arrow=arrow,
                                      shown=shown_size(context.get("input_shape")))
