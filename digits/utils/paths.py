"""Resolving user-given paths and keeping them inside the roots they are allowed to reach."""
import os


class PathError(ValueError):
    """A path a user gave is missing, malformed or outside the allowed roots."""


def is_inside(path, root):
    path, root = os.path.realpath(path), os.path.realpath(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def resolve_user_path(path, allowed_roots, must_exist=True, kind=None):
    """Expands ~ and symlinks, and refuses anything outside allowed_roots (symlinks included)."""
    if not path or not isinstance(path, str) or "\x00" in path:
        raise PathError("no path given")
    resolved = os.path.realpath(os.path.expanduser(path.strip()))
    if not any(is_inside(resolved, root) for root in allowed_roots):
        raise PathError(f"{path} is outside the folders this server may read "
                        f"(DIGITS_ALLOWED_ROOTS: {', '.join(allowed_roots)})")
    if must_exist and not os.path.exists(resolved):
        raise PathError(f"{path} does not exist")
    if kind == "dir" and must_exist and not os.path.isdir(resolved):
        raise PathError(f"{path} is not a folder")
    if kind == "file" and must_exist and not os.path.isfile(resolved):
        raise PathError(f"{path} is not a file")
    return resolved
