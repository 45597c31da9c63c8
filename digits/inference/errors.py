"""Errors of inference requests, with the HTTP status the server answers them with."""


class InferenceError(Exception):
    """A request that cannot be answered; `status` is the HTTP status, `type` the JSON error type."""

    def __init__(self, message, status=400, type_="InferenceError"):
        super().__init__(message)
        self.status = status
        self.type = type_

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
