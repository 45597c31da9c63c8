"""Reading model stores: http(s):// through urllib (with timeouts) and file:// folders. Lists a store's
models and downloads one model's files, streamed to disk under a size cap.

Blocking: the views call these through run_blocking. Every failure is a StoreError whose message names
the URL and what went wrong (unreachable, HTTP status, missing file, bad JSON, unsafe name, too big).
"""
import hashlib
import http.client
import logging
import os
import socket
from html.parser import HTMLParser
from urllib.error import HTTPError, URLError
from urllib.parse import quote, unquote, urljoin, urlsplit
from urllib.request import Request, url2pathname, urlopen

from digits import __version__
from digits.store.info import (AUX_FILE, INFO_FILE, MASTER_FILE, StoreError, bare_name, child_name,
                               master_children, model_files, parse_object)
from digits.utils.paths import is_inside

TIMEOUT = 20                 # seconds for connecting and for each read
JSON_MAX_BYTES = 1 << 20     # info.json, aux.json, master.json, an index page
CHUNK = 1 << 20
MAX_MODELS = 500             # folders read per store (each costs two requests)
SCHEMES = ("http", "https", "file")
log = logging.getLogger(__name__)


class Missing(StoreError):
    """The store answered that the file is not there (404, no such file)."""


def base_url(url):
    """The store's URL ending in "/" (its files are relative to it)."""
    url = (url or "").strip()
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:   # e.g. a malformed [IPv6] host
        raise StoreError(f"{url!r} is not a valid model store URL: {exc}") from None
    if scheme not in SCHEMES:
        raise StoreError(f"{url!r} is not a model store URL: it must start with http://, https:// or file://")
    return url if url.endswith("/") else url + "/"


def model_id(base, dir_name):
    """Stable across listings and restarts: the same store folder always has the same id."""
    return hashlib.sha256(f"{base}\n{dir_name}".encode("utf-8")).hexdigest()[:16]


def local_folder(base):
    """The folder of a file:// store."""
    parts = urlsplit(base)
    if parts.netloc not in ("", "localhost"):
        raise StoreError(f"{base}: a file:// store must be on this machine (file:///path/to/store/)")
    return os.path.realpath(url2pathname(parts.path))


def _shown(base, parts):
    return base + "/".join(parts)


def _open(base, parts):
    """(readable binary stream, length or None, content type or None) of base + parts."""
    shown = _shown(base, parts)
    if base.startswith("file:"):
        root = local_folder(base)
        path = os.path.join(root, *parts)
        if not is_inside(path, root):
            raise StoreError(f"{shown} leads outside the store folder (a link)", 502)
        try:
            stream = open(path, "rb")
        except FileNotFoundError:
            raise Missing(f"{shown} does not exist", 502) from None
        except OSError as exc:
            raise StoreError(f"cannot read {shown}: {exc.strerror or exc}", 502) from None
        return stream, os.fstat(stream.fileno()).st_size, None
    url = base + "/".join(quote(p) for p in parts)
    try:
        response = urlopen(Request(url, headers={"User-Agent": f"DIGITS/{__version__}"}), timeout=TIMEOUT)
    except HTTPError as exc:
        exc.close()
        kind = Missing if exc.code in (404, 410) else StoreError
        raise kind(f"{url} answered HTTP {exc.code} {exc.reason}", 502) from None
    except URLError as exc:
        raise StoreError(f"cannot reach {url}: {_reason(exc.reason)}", 502) from None
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise StoreError(f"cannot reach {url}: {_reason(exc)}", 502) from None
    length = response.headers.get("Content-Length")
    return response, int(length) if length and length.isdigit() else None, response.headers.get_content_type()


def _reason(exc):
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"no answer within {TIMEOUT} s"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _copy(stream, write, max_bytes, length, shown, too_big):
    """Feeds stream to write() chunk by chunk, logging progress, then closes it; returns the bytes
    copied. More than max_bytes (announced or sent) is refused with the message too_big."""
    copied, step = 0, max(length // 10, CHUNK) if length else 16 * CHUNK
    next_log = step
    try:
        if length is not None and length > max_bytes:
            raise StoreError(too_big)
        while True:
            chunk = stream.read(CHUNK)
            if not chunk:
                return copied
            copied += len(chunk)
            if copied > max_bytes:
                raise StoreError(too_big)
            write(chunk)
            if copied >= next_log:
                done = f" ({100 * copied // length}%)" if length else ""
                log.info("model store: %s: %d bytes%s", shown, copied, done)
                next_log += step
    except (OSError, http.client.HTTPException) as exc:
        raise StoreError(f"reading {shown} failed: {_reason(exc)}", 502) from None
    finally:
        stream.close()


def read(base, parts, max_bytes=JSON_MAX_BYTES):
    """(bytes, content type) of a small store file."""
    stream, length, content_type = _open(base, parts)
    shown = _shown(base, parts)
    chunks = []
    _copy(stream, chunks.append, max_bytes, length, shown, f"{shown} is larger than {max_bytes} bytes")
    return b"".join(chunks), content_type


def read_object(base, parts):
    return parse_object(read(base, parts)[0], _shown(base, parts))


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs.extend(value for name, value in attrs if name == "href" and value)


def folder_links(base, page):
    """The model folders an index page (Python's http.server, nginx autoindex, Apache) links to: links
    to "<name>/" right under base; parents, sort links and other sites are not models."""
    parser = _Links()
    parser.feed(page.decode("utf-8", "replace"))
    names = []
    for href in parser.hrefs:
        target = urljoin(base, href.strip())
        rest = target[len(base):] if target.startswith(base) else ""
        if not rest.endswith("/") or "?" in rest or "#" in rest or rest.count("/") != 1:
            continue
        try:
            name = bare_name(unquote(rest[:-1]), "a folder link")
        except StoreError:
            continue
        if name not in names:
            names.append(name)
    return names


def children(base):
    """(welcome message, model folder names): master.json's (its entries unchecked: model_entry checks
    each), else the folder's own listing."""
    try:
        master = read_object(base, (MASTER_FILE,))
    except Missing:
        return f"Thanks for visiting {base}", _listed_folders(base)
    msg, dirs = master_children(master, base + MASTER_FILE)
    return msg or f"Thanks for visiting {base}", dirs


def _listed_folders(base):
    if base.startswith("file:"):
        folder = local_folder(base)
        try:
            names = os.listdir(folder)
        except OSError as exc:
            raise StoreError(f"cannot read the store folder {folder}: {exc.strerror or exc}", 502) from None
        return sorted(n for n in names if not n.startswith(".") and os.path.isdir(os.path.join(folder, n)))
    page, content_type = read(base, ())
    if content_type != "text/html":
        raise StoreError(f"{base} has no {MASTER_FILE} and is not a folder listing (it answered {content_type})")
    return folder_links(base, page)


def model_entry(base, dir_name):
    """{"id", "dir_name", "info", "aux"?} — with "error" when the model cannot be pushed as it is (a
    master.json child that is no folder name included)."""
    entry = {"id": model_id(base, child_name(dir_name)), "dir_name": child_name(dir_name), "info": {}}
    try:
        bare_name(dir_name, f"{base}{MASTER_FILE} child")
    except StoreError as exc:   # nothing of it is read: the name may lead anywhere
        return dict(entry, error=str(exc))
    shown = f"{base}{dir_name}/{INFO_FILE}"
    try:
        entry["info"] = read_object(base, (dir_name, INFO_FILE))
        model_files(entry["info"], shown)
    except StoreError as exc:
        entry["error"] = str(exc)
    try:
        entry["aux"] = read_object(base, (dir_name, AUX_FILE))
    except Missing:
        pass
    except StoreError as exc:   # optional: the model stays usable
        entry["aux_error"] = str(exc)
    return entry


def store_listing(url):
    """(base URL, {"base_url", "welcome_msg", "model_list"}) — with "error" when the store cannot be read."""
    try:
        base = base_url(url)
        msg, dirs = children(base)
    except StoreError as exc:
        return (url or "").strip(), {"base_url": url, "welcome_msg": "", "model_list": [], "error": str(exc)}
    listing = {"base_url": base, "welcome_msg": msg, "model_list": [model_entry(base, d) for d in dirs[:MAX_MODELS]]}
    if len(dirs) > MAX_MODELS:
        listing["error"] = f"{base} lists {len(dirs)} models; only the first {MAX_MODELS} are shown"
    return base, listing


def listing(urls):
    """GET /store/models' answer: {base URL: store listing} in the configured order."""
    return dict(store_listing(url) for url in urls)


def optional_file(base, dir_name, name, dest):
    """A small file of the model folder that it may lack, saved as dest/<name>: its path, or None when
    the store has no such file or it cannot be read (nothing depends on it)."""
    try:
        data, _ = read(base, (bare_name(dir_name, "the model folder"), name))
    except StoreError:
        return None
    path = os.path.join(dest, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def download_model(base, dir_name, dest, max_bytes):
    """Reads the model's info.json afresh and downloads the files it names into dest. Returns (info,
    {key: (local path, the store's name for it)}, total bytes); max_bytes caps all files together."""
    shown = f"{base}{dir_name}/{INFO_FILE}"
    info = read_object(base, (bare_name(dir_name, "the model folder"), INFO_FILE))
    files, total = {}, 0
    for key, name in model_files(info, shown).items():
        folder = os.path.join(dest, key)   # one folder per file: names may repeat, suffixes stay
        os.makedirs(folder)
        path = os.path.join(folder, name)
        stream, length, _ = _open(base, (dir_name, name))
        too_big = (f"{_shown(base, (dir_name, name))}: the model's files are larger than the model store "
                   f"download limit of {max_bytes:,} bytes (DIGITS_MODEL_STORE_MAX_MB)")
        with open(path, "wb") as out:
            total += _copy(stream, out.write, max_bytes - total, length, _shown(base, (dir_name, name)), too_big)
        files[key] = (path, name)
    log.info("model store: downloaded %s%s/ (%d bytes)", base, dir_name, total)
    return info, files, total
