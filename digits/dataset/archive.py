"""Safe extraction of an uploaded .zip / .tar[.gz|.bz2|.xz] of class folders.

Refused: absolute paths, "..", links, devices; more than max_bytes of content or max_entries
files (zip bombs). Checked once from the listing (before a job starts) and again while copying,
since a stream can disagree with its own listing.
"""
import os
import shutil
import stat
import tarfile
import zipfile

from digits.utils.image import is_image_file

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
DEFAULT_MAX_ENTRIES = 2_000_000


NOT_AN_ARCHIVE = "not a readable .zip or .tar archive (.tar.gz, .tar.bz2 and .tar.xz too)"


class ArchiveError(ValueError):
    """The archive is unreadable, unsafe or too large; the message says which entry and why."""

    user_error = True


def is_archive_name(name):
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def _check_name(name):
    clean = name.replace("\\", "/")
    if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":"):
        raise ArchiveError(f'archive entry "{name}" has an absolute path')
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f'archive entry "{name}" points outside the archive ("..")')
    if any("\x00" in p for p in parts):
        raise ArchiveError(f'archive entry "{name}" has a malformed name')
    return parts


def _entries(path):
    """[(parts, size, is_dir, opener)] for every member; raises ArchiveError on unsafe members."""
    if zipfile.is_zipfile(path):
        archive = zipfile.ZipFile(path)
        out = []
        for info in archive.infolist():
            parts = _check_name(info.filename)
            mode = (info.external_attr >> 16) & 0o170000
            if mode and stat.S_ISLNK(mode):
                raise ArchiveError(f'archive entry "{info.filename}" is a symbolic link')
            out.append((parts, info.file_size, info.is_dir(), lambda i=info: archive.open(i)))
        return archive, out
    try:
        archive = tarfile.open(path, "r:*")
    except (tarfile.TarError, OSError):   # tarfile's reasons list every compression it tried
        raise ArchiveError(NOT_AN_ARCHIVE) from None
    out = []
    for member in archive.getmembers():
        parts = _check_name(member.name)
        if member.issym() or member.islnk():
            raise ArchiveError(f'archive entry "{member.name}" is a link')
        if not (member.isfile() or member.isdir()):
            raise ArchiveError(f'archive entry "{member.name}" is not a regular file or folder')
        out.append((parts, member.size, member.isdir(), lambda m=member: archive.extractfile(m)))
    return archive, out


def check_archive_opens(path):
    """Cheap check that path is a zip or tar at all (reads only its first header)."""
    if zipfile.is_zipfile(path):
        return
    try:
        with tarfile.open(path, "r:*") as archive:
            archive.next()
    except (tarfile.TarError, OSError, EOFError):
        raise ArchiveError(NOT_AN_ARCHIVE) from None


def check_archive(path, max_bytes, max_entries=DEFAULT_MAX_ENTRIES, class_folders=True):
    """Validates the listing; returns (file count, total bytes). Raises ArchiveError.

    class_folders: the archive must hold a dataset's class folders (not so for a model archive)."""
    try:
        archive, entries = _entries(path)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveError(f"cannot read the archive: {exc}") from None
    with archive:
        files = [e for e in entries if not e[2]]
        total = sum(e[1] for e in files)
    if len(files) > max_entries:
        raise ArchiveError(f"archive holds {len(files)} files, more than the limit of {max_entries}")
    if total > max_bytes:
        raise ArchiveError(f"archive expands to {total} bytes, more than the limit of {max_bytes}")
    if not files:
        raise ArchiveError("archive holds no files")
    if class_folders:
        _check_class_folders([parts for parts, _, is_dir, _ in entries if not is_dir],
                             [parts for parts, _, is_dir, _ in entries if is_dir])
    return len(files), total


def _visible(parts):
    return parts and parts[0] != "__MACOSX" and not any(p.startswith(".") for p in parts)


def _check_class_folders(file_parts, dir_parts):
    """The listing must give parse_folder ≥ 2 class folders holding images, at the top level or in
    one wrapper folder (the root extract_archive returns): refused here, before any job exists."""
    file_parts = [p for p in file_parts if _visible(p)]
    dir_parts = [p for p in dir_parts if _visible(p)]
    tops = {p[0] for p in file_parts + dir_parts}
    if len(tops) == 1:
        top = next(iter(tops))
        inner = {p[1] for p in file_parts if len(p) > 2 and p[0] == top} | \
                {p[1] for p in dir_parts if len(p) >= 2 and p[0] == top}
        if len(inner) >= 2:  # same rule as _content_root
            file_parts = [p[1:] for p in file_parts]
    classes = {p[0] for p in file_parts if len(p) >= 2 and is_image_file(p[-1])}
    if len(classes) >= 2:
        return
    loose = sum(1 for p in file_parts if len(p) == 1 and is_image_file(p[0]))
    found = f"it has {len(classes)} folder(s) with images" + (
        f" and {loose} image(s) outside any folder" if loose else "")
    raise ArchiveError("the archive must hold at least two class folders of images, one per class "
                       f"(e.g. cat/1.jpg, dog/1.jpg); {found}")


def extract_archive(path, dest, max_bytes, max_entries=DEFAULT_MAX_ENTRIES, on_progress=None):
    """Extracts into dest (created, must be empty or absent); returns the folder holding the classes.

    An archive whose content sits in one top-level folder ("flowers/daisy/1.jpg") yields that folder.
    on_progress(bytes written, bytes in all) is called as the content is written.
    """
    # The class-folder rule was applied at submit time for datasets; model archives have none.
    _, total = check_archive(path, max_bytes, max_entries, class_folders=False)
    os.makedirs(dest, exist_ok=True)
    written = 0
    root = os.path.realpath(dest)
    try:
        archive, entries = _entries(path)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveError(f"cannot read the archive: {exc}") from None
    with archive:
        for parts, _, is_dir, opener in entries:
            if not parts or parts[0] in ("__MACOSX",):
                continue
            target = os.path.join(root, *parts)
            if not os.path.realpath(target).startswith(root + os.sep):
                raise ArchiveError(f'archive entry "{"/".join(parts)}" points outside the archive')
            if is_dir:
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            try:
                with opener() as src, open(target, "wb") as out:
                    while True:
                        block = src.read(1 << 20)
                        if not block:
                            break
                        written += len(block)
                        if written > max_bytes:
                            raise ArchiveError(f"archive expands to more than the limit of {max_bytes} bytes")
                        out.write(block)
                        if on_progress:
                            on_progress(written, total)
            except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
                raise ArchiveError(f'cannot extract "{"/".join(parts)}": {exc}') from None
    return _content_root(root)


def _content_root(folder):
    names = [n for n in os.listdir(folder) if not n.startswith(".") and n != "__MACOSX"]
    if len(names) == 1 and os.path.isdir(os.path.join(folder, names[0])):
        inner = os.path.join(folder, names[0])
        if sum(os.path.isdir(os.path.join(inner, n)) for n in os.listdir(inner)) >= 2:
            return inner
    return folder


def remove_quietly(path):
    shutil.rmtree(path, ignore_errors=True)
