"""Errors of inference requests, with the HTTP status the server answers them with."""
import signal


class InferenceError(Exception):
    """A request that cannot be answered; `status` is the HTTP status, `type` the JSON error type."""

    def __init__(self, message, status=400, type_="InferenceError", exit_code=None):
        super().__init__(message)
        self.status = status
        self.type = type_
        self.exit_code = exit_code   # set when the worker process ended during the request

    def to_json(self):
        return {"message": str(self), "status": self.status, "type": self.type}


class ImageError(InferenceError):
    """An input image that cannot be read or decoded."""

    def __init__(self, message):
        super().__init__(message, 400, "ImageError")


class ModelError(InferenceError):
    """A model folder whose network, weights or preprocessing cannot be loaded."""

    def __init__(self, message, status=422):
        super().__init__(message, status, "ModelError")



def blame_user_code(exc, whose="the network's code"):
    """A worker that died while it ran a user's code (building their network, loading their model) was
    ended by that code: a 400 saying how it ended — not a server error, and without the worker's stderr
    tail (torch warnings and the like, unrelated to the user). Other errors are returned unchanged."""
    if exc.type != "WorkerCrashed" or exc.exit_code is None:
        return exc   # not a crash, or the worker could not even start: not the user's doing
    code = exc.exit_code
    if code >= 0:
        return InferenceError(f"{whose} ended the process (exit code {code})", 400, "NetworkError")
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    hint = " (out of memory?)" if -code == signal.SIGKILL else ""
    return InferenceError(f"the process running {whose} was killed by {name}{hint}", 400, "NetworkError")
