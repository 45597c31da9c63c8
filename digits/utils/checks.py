"""Small value checks shared by config readers."""
import math


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
