"""Small value checks shared by config readers."""
import math


def is_number(value, finite=True):
    """A JSON number (int or float, not a bool), finite unless told otherwise: no coercion from
    strings, for values read from files and protocol messages that must already be numbers."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and (not finite or math.isfinite(value)))


def finite_number(label, value, error=ValueError):
    """float(value), or `error` naming the setting when it is not a finite number."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise error(f"{label} must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise error(f"{label} must be finite, got {value!r}")
    return value


def unique_name(name, taken, separator="_"):
    """name, or name<separator>2, 3 ... whichever is not in `taken` yet; adds it to `taken`."""
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}{separator}{n}", n + 1
    taken.add(candidate)
    return candidate
