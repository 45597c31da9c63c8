"""The one exception network building raises: a message a user can act on."""


class NetworkError(ValueError):
    """A network definition that cannot be built; `layer` and `line` say where, when known."""

    def __init__(self, message, layer=None, line=None):
        super().__init__(message)
        self.layer = layer
        self.line = line


def where(name, type_=None, line=None):
    """'layer "conv1" (Convolution, line 12)' — the prefix every per-layer message starts with."""
    details = ", ".join(str(part) for part in (type_, f"line {line}" if line else None) if part)
    return f'layer "{name}"' + (f" ({details})" if details else "")
