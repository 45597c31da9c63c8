"""The two text files that describe a segmentation dataset's classes, both DIGITS' "line i is class i−1":

    class_labels_file     one class name a line
    colormap_text_file    one colour a line, "R G B": three integers 0..255 separated by spaces

    read_names(path) -> [name]                  ClassFileError (a ValueError) saying which line is wrong
    read_colormap(path) -> [[r, g, b]]          the same; a colour given twice is an error (a pixel of it
                                                could be either class)
    parse_names(text), parse_colormap(text)     the same, of the text

Trailing empty lines are fine; an empty line before the last class is an error, since it would shift
every class after it. At most MAX_CLASSES lines: class id 255 means "ignore" in a stored label.
"""
MAX_CLASSES = 255
MAX_BYTES = 1 << 20   # read by the web server when the form is posted: a class list, never a dataset


class ClassFileError(ValueError):
    user_error = True


def _lines(text):
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ClassFileError("the file is empty")
    if len(lines) > MAX_CLASSES:
        raise ClassFileError(f"{len(lines)} lines: at most {MAX_CLASSES} classes (id 255 means ignore)")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            raise ClassFileError(f"line {number} is empty (line i gives class i−1: every class needs its line)")
    return lines


def parse_names(text):
    return [line.strip() for line in _lines(text)]


def parse_colormap(text):
    rows, seen = [], {}
    for number, line in enumerate(_lines(text), 1):
        fields = line.split()
        # plain decimal digits only: int() would also take "+1", "1_0" and other scripts' digits
        row = [int(v) for v in fields] if all(v.isascii() and v.isdigit() for v in fields) else None
        if row is None or len(row) != 3 or not all(v <= 255 for v in row):
            raise ClassFileError(f"line {number}: {line.strip()!r} is not three integers 0–255 (R G B)")
        if tuple(row) in seen:
            raise ClassFileError(f"line {number}: colour {' '.join(fields)} is already class {seen[tuple(row)]}'s "
                                 f"(line {seen[tuple(row)] + 1})")
        seen[tuple(row)] = number - 1
        rows.append(row)
    return rows


def _read(path):
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ClassFileError(f"cannot read it: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise ClassFileError(f"larger than {MAX_BYTES >> 20} MB: not a list of classes")
    try:
        return data.decode("utf-8-sig")   # a BOM must not become part of the first line
    except UnicodeDecodeError:
        raise ClassFileError("not a text file (not UTF-8)") from None


def read_names(path):
    return parse_names(_read(path))


def read_colormap(path):
    return parse_colormap(_read(path))
