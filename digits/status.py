"""Job and task states, with the timestamped history shown on job pages."""
import time


class Status:
    INIT = "Initialized"
    WAIT = "Waiting"
    RUN = "Running"
    DONE = "Done"
    ABORT = "Aborted"
    ERROR = "Error"

    ALL = (INIT, WAIT, RUN, DONE, ABORT, ERROR)
    ACTIVE = (INIT, WAIT, RUN)
    FINISHED = (DONE, ABORT, ERROR)
    CSS = {INIT: "secondary", WAIT: "warning", RUN: "info", DONE: "success", ABORT: "dark", ERROR: "danger"}


class StatusHistory:
    """A status plus the list of (status, timestamp) transitions that led to it."""

    def __init__(self, history=None):
        self.history = [list(h) for h in (history or [])] or [[Status.INIT, time.time()]]

    @property
    def status(self):
        return self.history[-1][0]

    def set(self, status):
        if status not in Status.ALL:
            raise ValueError(f"unknown status {status!r}")
        if status != self.status:
            self.history.append([status, time.time()])
            return True
        return False

    def first_time(self, status):
        for name, stamp in self.history:
            if name == status:
                return stamp
        return None

    def runtime(self):
        """Seconds spent Running, summed over restarts."""
        total, started = 0.0, None
        for name, stamp in self.history:
            if name == Status.RUN:
                started = stamp
            elif started is not None:
                total += stamp - started
                started = None
        if started is not None:
            total += time.time() - started
        return total

    def to_json(self):
        return self.history
