"""What the dataset tools tell the server while they run: throttled progress and skipped files."""
import time

from digits.tools.common import emit

MAX_SKIP_WARNINGS = 20  # the full list goes to a *_skipped.json file; job.json must stay small


class Progress:
    """progress(done, total) of one phase, mapped into [start, end] of the task's progress.

    Emitted at most every `interval` seconds (and when the phase completes), so that a phase of a
    million small steps neither floods the server nor leaves it without an ETA for long.
    """

    def __init__(self, start=0.0, end=1.0, interval=0.5):
        self.start, self.end, self.interval = start, end, interval
        self.last = None

    def __call__(self, done, total):
        now = time.monotonic()
        if done >= total or self.last is None or now - self.last >= self.interval:
            self.last = now
            value = self.start + (self.end - self.start) * min(done, total) / max(total, 1)
            emit("progress", value=round(value, 4), done=done, total=total)


def warn_skipped(skipped, listed_in):
    """One warning per skipped file ({"path", "reason"}) up to a limit, then a count."""
    for entry in skipped[:MAX_SKIP_WARNINGS]:
        emit("warning", message=f"skipped {entry['path']}: {entry['reason']}")
    if len(skipped) > MAX_SKIP_WARNINGS:
        emit("warning", message=f"{len(skipped)} unreadable files skipped in all; see {listed_in}")
