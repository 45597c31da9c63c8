import pytest


def input_net(*layers, shape=(1, 1, 6, 6)):
    """Prototxt text: an Input layer named "data" followed by the given layer blocks."""
    dims = " ".join(f"dim: {d}" for d in shape)
    head = f'layer {{ name: "data" type: "Input" top: "data" input_param {{ shape {{ {dims} }} }} }}\n'
    return head + "\n".join(layers)


@pytest.fixture
def make_net():
    return input_net
