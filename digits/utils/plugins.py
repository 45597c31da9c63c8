"""Filling a registry once per process, the first time it is asked: built-ins, then entry points.

Shared by the framework, data-extension and view-extension registries. Thread-safe, since the first
requests of a server arrive together: a thread that found a half-filled registry would refuse a valid
choice ("framework: Not a valid choice"). Re-entrant: a module that registers itself while being
imported by the filling does not start the filling again.
"""
import logging
import threading
from importlib import metadata

log = logging.getLogger("digits.plugins")


class LoadOnce:
    def __init__(self, fill):
        self._fill = fill
        self._lock = threading.RLock()
        self._done = False
        self._filling = False

    def __call__(self):
        if self._done:
            return
        with self._lock:   # other threads wait here until the registry is whole
            if self._done or self._filling:
                return
            self._filling = True
            try:
                self._fill()
            finally:
                self._filling = False
                self._done = True   # once, even when a plugin failed: it is not retried on every call

    def reset(self):
        """Fill again at the next call (tests that install a plugin package)."""
        with self._lock:
            self._done = False


def load_entry_points(group, register, what):
    """register(entry.load()) for each entry point of group. One policy for every registry: a broken
    plugin must not take the server down, so it is logged (naming `what` it was meant to be) and left
    out, and the others still load."""
    for entry in metadata.entry_points(group=group):
        try:
            register(entry.load())
        except Exception:
            log.exception("%s %s (%s) could not be loaded", what, entry.name, entry.value)
