"""Class names → class ids, DIGITS' way: id 0 is DontCare, names are matched lower-cased, and a name the
map does not hold becomes 0 (and is reported)."""
import csv

from digits.dataset.images.detection.kitti import DONTCARE


def parse_custom(text):
    """custom_classes ("dontcare,car,person"; csv quoting allowed) → the names in order; ValueError if
    one is empty or repeated."""
    names = [n.strip() for n in next(csv.reader([text.strip()]), [])]
    if not names or not all(names):
        raise ValueError("give class names separated by commas, none empty (e.g. dontcare,car,person)")
    seen = set()
    for name in names:
        if name.lower() in seen:
            raise ValueError(f"class {name!r} is named twice")
        seen.add(name.lower())
    return names


class ClassMap:
    def __init__(self, names):
        self.names = list(names)
        self.ids = {name.lower(): i for i, name in enumerate(self.names)}

    @classmethod
    def found(cls, names):
        """DontCare, then the object names found (sorted): a dataset without custom_classes."""
        return cls([DONTCARE] + sorted({n.lower() for n in names if n and n.lower() != DONTCARE}))

    def lookup(self, name):
        """(class id, known): unknown names and None (no name) are DontCare."""
        if name is None:
            return 0, False
        name = name.lower()
        if name in self.ids:
            return self.ids[name], True
        return 0, name == DONTCARE
