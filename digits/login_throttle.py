"""Slowing down password guessing: after MAX_FAILURES wrong passwords for one user name from one
address within WINDOW_S seconds, that pair is refused (429, Retry-After) until its oldest failure
ages out of the window.

Keyed by (name, address) rather than by name alone, so that someone guessing cannot lock the real
user out from their own machine; a successful login clears the pair. Kept in memory: a restart
forgets it, which costs a guesser a restart of the server per few guesses. Only password mode
counts failures (open mode has no passwords).
"""
import threading
import time
from collections import deque

MAX_FAILURES = 5
WINDOW_S = 300.0
_MAX_TRACKED = 10000   # pairs remembered at most, so a flood of made-up names cannot grow memory


class LoginThrottle:
    def __init__(self, max_failures=MAX_FAILURES, window_s=WINDOW_S, clock=time.monotonic):
        self.max_failures, self.window_s, self._clock = max_failures, window_s, clock
        self._failures = {}   # (name, address) -> deque of failure times, oldest first
        self._lock = threading.Lock()

    def retry_after(self, name, address):
        """Seconds until this pair may try again; 0 when it may now."""
        with self._lock:
            times = self._recent((name, address))
            if len(times) < self.max_failures:
                return 0
            return max(1, int(times[0] + self.window_s - self._clock() + 0.999))

    def failed(self, name, address):
        with self._lock:
            key = (name, address)
            times = self._recent(key)
            if not times and len(self._failures) >= _MAX_TRACKED:
                self._forget_stale()
            times.append(self._clock())
            self._failures[key] = times

    def succeeded(self, name, address):
        with self._lock:
            self._failures.pop((name, address), None)

    def _recent(self, key):
        times = self._failures.get(key, deque())
        horizon = self._clock() - self.window_s
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            self._failures.pop(key, None)
        return times

    def _forget_stale(self):
        for key in list(self._failures):
            self._recent(key)
        while len(self._failures) >= _MAX_TRACKED:   # still full of fresh pairs: drop the oldest
            self._failures.pop(next(iter(self._failures)))
