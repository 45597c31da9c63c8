"""The plugin's standard network, offered on the new-model page (entry point digits.plugins.network)."""
from importlib import resources

from digits.networks import StandardNetwork

GRADIENT_REGRESSOR = StandardNetwork(
    "gradient_regressor", "Gradient regressor", (32, 32),
    "a small convolutional network giving the two slopes of a gradient image (the image gradients plugin)",
    task_type="regression", framework="torch",
    source=resources.files(__package__).joinpath("gradient_regressor.py").read_text(encoding="utf-8"))
