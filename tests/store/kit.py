"""Model stores for the tests: folders in DIGITS' store format, served as file:// URLs or by Python's
http.server on a loopback port (its folder listing), and the server's store setting switched per test."""
import contextlib
import functools
import json
import os
import pathlib
import socket
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

from tests.inference.kit import SIZE, TORCH_NET

LABELS = b"blue\ngreen\nred\n"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def http_store(folder):
    """The folder served over HTTP on 127.0.0.1 (a free port); yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def closed_port_url():
    """An http:// URL nothing listens on (a port just released): connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def file_url(folder):
    return pathlib.Path(str(folder)).absolute().as_uri() + "/"


@contextlib.contextmanager
def store_urls(app, *urls):
    """The app's DIGITS_MODEL_STORE_URL for the block (the listing cache follows the setting)."""
    config = app.extensions["digits"]["config"]
    saved = config["model_store_urls"]
    config["model_store_urls"] = list(urls)
    try:
        yield
    finally:
        config["model_store_urls"] = saved


def write_model_dir(store, name, info=None, files=None, raw_info=None):
    """store/name/ with info.json (an object, or raw_info bytes as they are) and files {name: bytes}."""
    folder = os.path.join(str(store), name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "info.json"), "wb") as f:
        f.write(raw_info if raw_info is not None else json.dumps(info).encode())
    for file_name, data in (files or {}).items():
        with open(os.path.join(folder, file_name), "wb") as f:
            f.write(data)
    return folder


def digits_info(**fields):
    """info.json as DIGITS wrote it for a model: no preprocess.json, the input size in "image dimensions"."""
    info = {"name": "tiny", "framework": "torch", "snapshot file": "snapshot.pt", "network file": "network.py",
            "labels file": "labels.txt", "image dimensions": [SIZE, SIZE, 3], "image resize mode": "squash"}
    info.update(fields)
    return info


def digits_files(weights=b"not torch weights"):
    return {"snapshot.pt": weights, "network.py": TORCH_NET.encode(), "labels.txt": LABELS}


def models_by_dir(listing, base):
    return {m["dir_name"]: m for m in listing[base]["model_list"]}
