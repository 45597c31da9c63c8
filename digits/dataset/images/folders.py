"""Folders of files as the image dataset extensions read them (torch- and Flask-free): the image files under
a folder in one fixed order, files paired by name, and how a report lists files.

    image_files(folder) -> [path]          every image file below folder (subfolders too), sorted
    first_file(folder, wanted) -> path     the first file whose name wanted(name) accepts, or None
    stem(path) -> name                     the file name without its extension: what pairs files
    listed(names, most=10) -> text         "a, b, c, …" for a report
"""
import os

from digits.utils.image import is_image_file

MAX_LISTED = 10


class SourceError(ValueError):
    user_error = True   # the message says which folder or file, and what is wrong


def _walk(folder):
    """(dirpath, sorted names) top-down, subfolders sorted: one order on every machine."""
    for dirpath, dirnames, names in os.walk(folder, followlinks=True):
        dirnames.sort()
        yield dirpath, sorted(names)


def image_files(folder):
    found = [os.path.join(dirpath, n) for dirpath, names in _walk(folder) for n in names if is_image_file(n)]
    if not found:
        raise SourceError(f"image folder {folder} holds no images")
    return found


def first_file(folder, wanted):
    """Stops at the first match: a folder may hold millions of files."""
    for dirpath, names in _walk(folder):
        for name in names:
            if wanted(name):
                return os.path.join(dirpath, name)
    return None


def stem(path):
    return os.path.splitext(os.path.basename(path))[0]


def listed(names, most=MAX_LISTED):
    names = list(names)
    return ", ".join(str(n) for n in names[:most]) + (", …" if len(names) > most else "")
