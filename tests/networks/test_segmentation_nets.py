"""The standard segmentation networks follow docs/segmentation.md §2: each builds and passes the
segmentation checks, trains a step on N×H×W labels with ignored pixels, and scores N×K×H×W at its
input's size; grey images work, and the torchvision ones start from a local weights file only."""
import inspect

import pytest
import torch

from digits.frameworks import NetworkError, build_network
from digits.networks import SEGMENTATION_NETWORKS, networks_for, score_maps, standard_network

SHAPE = (3, 64, 64)
CLASSES = 3
PYTHON = [n.name for n in SEGMENTATION_NETWORKS if n.framework == "torch"]


def build(name, shape=SHAPE):
    return build_network("torch", standard_network(name, "torch", "segmentation"), shape, CLASSES)


@pytest.mark.parametrize("name", PYTHON)
def test_builds_trains_a_step_and_scores_every_pixel(name):
    from digits.model.tasks import get_task_type
    torch.manual_seed(0)
    network = build(name)
    module = network.module
    assert network.task_type == "segmentation"
    labels = torch.randint(0, CLASSES, (2, 64, 64))
    labels[:, :8] = 255
    module.train()
    optimizer = torch.optim.SGD(module.parameters(), lr=0.01)
    loss = get_task_type("segmentation").loss(network, module, module(torch.rand(2, *SHAPE)), labels)
    before = [p.detach().clone() for p in module.parameters()]
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss) and any(not torch.equal(a, b) for a, b in zip(before, module.parameters()))
    module.eval()
    with torch.no_grad():
        assert module(torch.rand(3, *SHAPE)).shape == (3, CLASSES, 64, 64)


def test_unet_small_takes_grey_images_of_any_size():
    module = build("unet_small", (1, 37, 50)).module.eval()
    with torch.no_grad():
        assert module(torch.rand(2, 1, 37, 50)).shape == (2, CLASSES, 37, 50)


def test_torchvision_networks_take_grey_images_and_refuse_other_channel_counts():
    module = build("lraspp_mobilenet", (1, 64, 64)).module.eval()
    with torch.no_grad():
        assert module(torch.rand(2, 1, 64, 64)).shape == (2, CLASSES, 64, 64)
    with pytest.raises(NetworkError, match="1- or 3-channel images"):
        build("lraspp_mobilenet", (4, 64, 64))


def test_a_local_weights_file_is_where_they_start(tmp_path):
    torch.manual_seed(3)
    donor = build("lraspp_mobilenet").module
    path = tmp_path / "lraspp.pt"
    torch.save(donor.model.state_dict(), path)   # a torchvision model's own state_dict
    text = standard_network("lraspp_mobilenet", "torch", "segmentation")
    assert "WEIGHTS_FILE = None" in text and "weights=None, weights_backbone=None" in inspect.getsource(score_maps)
    torch.manual_seed(4)
    module = build_network("torch", text.replace("WEIGHTS_FILE = None", f"WEIGHTS_FILE = {str(path)!r}"), SHAPE,
                           CLASSES).module
    assert all(torch.equal(a, b) for a, b in zip(module.state_dict().values(), donor.state_dict().values()))


def test_segmentation_networks_are_offered_for_segmentation_only():
    assert [n.name for n in networks_for("segmentation")] == ["fcn_alexnet", "unet_small", "fcn_resnet",
                                                             "deeplabv3_mobilenet", "lraspp_mobilenet"]
    assert not {n.name for n in networks_for("segmentation")} & {n.name for n in networks_for("classification")}
    assert 'type: "Crop"' in standard_network("fcn_alexnet", "caffe", "segmentation")
    with pytest.raises(ValueError, match='framework "torch" has no standard network "fcn_alexnet"'):
        standard_network("fcn_alexnet", "torch", "segmentation")
    with pytest.raises(ValueError, match="unknown standard network"):
        standard_network("unet_small", "torch", "detection")


def test_the_checks_say_what_a_segmentation_network_must_return():
    coarse = ('TASK_TYPE = "segmentation"\nimport torch.nn as nn\n'
              'def build(s, n):\n    return nn.Conv2d(s[0], n, 2, 2)\n')
    with pytest.raises(NetworkError, match="score map is 32×32 for a 64×64 input"):
        build_network("torch", coarse, SHAPE, CLASSES)
    undeclared = coarse.replace('TASK_TYPE = "segmentation"', "").replace("2, 2)", "1)")
    with pytest.raises(NetworkError, match='a segmentation network says TASK_TYPE = "segmentation"'):
        build_network("torch", undeclared, SHAPE, CLASSES)
