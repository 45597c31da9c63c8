"""The PyTorch engine: Python source defining build(input_shape, num_classes) (see python_net, registry)."""
from importlib import resources

from digits.frameworks.registry import Framework


class Torch(Framework):
    name = "torch"
    aliases = ("pytorch", "python")
    title = "PyTorch (Python)"
    network_file = "network.py"
    network_suffixes = (".py",)
    default_scale = 1.0 / 255.0   # inputs in [0, 1], or [-1, 1] with a mean subtracted
    runs_user_code = True

    def build(self, source_text, input_shape, num_classes, aux_losses=False):
        from digits.frameworks.python_net import build_python
        return build_python(source_text, input_shape, num_classes)   # aux branches are the source's own affair

    def standard_network(self, name):
        source = resources.files("digits.networks.torch_sources").joinpath(f"{name}.py")
        return source.read_text(encoding="utf-8") if source.is_file() else None


ENGINE = Torch()
