"""Strict JSON everywhere the server writes or sends it: NaN and infinities become null.

A diverged training reports a NaN loss; Python's json writes it as a bare NaN, which no JSON parser
accepts (the page's charts, JSON.parse, jq): one such point would blank the whole model page, and a
job.json served by /files would break every strict client. Torch- and Flask-free: tools use it too.
"""
import json
import math


def finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def dumps(obj, **kwargs):
    """json.dumps that never writes NaN/Infinity (allow_nan=False guards what finite() cannot see,
    such as a `default=` hook returning a float)."""
    return json.dumps(finite(obj), allow_nan=False, **kwargs)
