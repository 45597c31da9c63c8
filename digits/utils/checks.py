"""Small value checks shared by config readers."""
import math


def is_number(value, finite=True):
    """A JSON number (int or float, not a bool), finite unless told otherwise: no coercion from
    strings, for values read from files and protocol messages that must already be numbers."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and (not finite or math.isfinite(value)))


# Training computes in 32-bit floats: a setting beyond this (lr 1e39, weight decay 1e308) is finite in
# Python but fails deep inside torch ("cannot be converted to type float without overflow").
FLOAT32_MAX = 3.4028234663852886e38


def finite_number(label, value, error=ValueError, float32=False):
    """float(value), or `error` naming the setting when it is not a finite number (with float32, one
    that a 32-bit float holds)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise error(f"{label} must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise error(f"{label} must be finite, got {value!r}")
    if float32 and abs(value) > FLOAT32_MAX:
        raise error(too_large_for_float32(label, value))
    return value


def too_large_for_float32(label, value):
    return f"{label} must be at most {FLOAT32_MAX:.3g} in size (training computes in 32-bit floats), got {value:g}"


def unique_name(name, taken, separator="_"):
    """name, or name<separator>2, 3 ... whichever is not in `taken` yet; adds it to `taken`."""
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}{separator}{n}", n + 1
    taken.add(candidate)
    return candidate
