"""JSON for browsers and scripts: NaN and infinities become null.

A diverged training reports a NaN loss; Python's json writes it as a bare NaN, which no JSON parser
accepts (the page's charts, JSON.parse, jq): one such point would blank the whole model page.
"""
import math

from flask.json.provider import DefaultJSONProvider


def finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


class FiniteJSONProvider(DefaultJSONProvider):
    """Flask's JSON (responses and the templates' tojson filter) with finite() applied first."""

    def dumps(self, obj, **kwargs):
        return super().dumps(finite(obj), **kwargs)
