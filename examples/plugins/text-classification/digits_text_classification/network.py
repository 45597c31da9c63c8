"""The plugin's standard network, offered on the new-model page (entry point digits.plugins.network)."""
from importlib import resources

from digits.networks import StandardNetwork

CHAR_CNN = StandardNetwork(
    "char_cnn", "Character CNN (1-D, text)", None,
    "a small 1-D convolutional network over the character one-hot rows of a text classification dataset",
    task_type="classification", framework="torch",
    source=resources.files(__package__).joinpath("char_cnn.py").read_text(encoding="utf-8"))
