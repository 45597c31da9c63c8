"""DIGITS-class deep-learning training server on PyTorch."""
__version__ = "0.1.0"
