"""CUDA paths: AMP + channels_last training, OOM message, snapshots loadable on CPU. Skipped without a GPU."""
import os

import pytest
import torch

import trainkit
from trainkit import metrics, of_type, run_in_process

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

BN_NET = '''
import torch.nn as nn

def build(input_shape, num_classes):
    c, h, w = input_shape
    return nn.Sequential(nn.Conv2d(c, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16 * (h // 2) * (w // 2), num_classes))
'''

GREEDY_NET = '''
import torch
import torch.nn as nn

class Greedy(nn.Module):
    def __init__(self, c, h, w, k):
        super().__init__()
        self.fc = nn.Linear(c * h * w, k)

    def forward(self, x):
        if self.training and x.is_cuda:
            torch.empty(1 << 44, dtype=torch.uint8, device=x.device)   # 16 TiB: never fits
        return self.fc(x.flatten(1))

def build(input_shape, num_classes):
    return Greedy(*input_shape, num_classes)
'''


def test_amp_channels_last_training_on_cuda(tmp_path, dataset_dir):
    job_dir = trainkit.make_job(str(tmp_path / "job"), dataset_dir, network=BN_NET, train_epochs=3,
                                augmentation={"flip": "fliplr", "rot": 5})
    code, msgs = run_in_process(job_dir)
    assert code == 0, of_type(msgs, "error")
    assert torch.cuda.get_device_name() in of_type(msgs, "result")[0]["device"]
    assert metrics(msgs, "val", "accuracy")[-1][1] >= 90.0
    state = torch.load(os.path.join(job_dir, "snapshot_epoch_3.pt"), map_location="cpu", weights_only=True)
    assert state["scaler"] is not None and "cuda" in state["rng"]
    assert all(t.device.type == "cpu" and t.is_contiguous() for t in state["model"].values())
    code, msgs = run_in_process(job_dir)        # resuming a finished CUDA run loads its state
    assert code == 0 and of_type(msgs, "resumed")[0]["epoch"] == 3


def test_cuda_out_of_memory_suggests_a_batch_size(job):
    code, msgs = run_in_process(job(network=GREEDY_NET, batch_size=32))
    assert code == 1
    assert of_type(msgs, "error")[0]["message"] == ("CUDA out of memory at batch size 32; try a smaller batch "
                                                    "size (e.g. 16)")


def test_a_segmentation_network_trains_with_amp_on_cuda(tmp_path):
    """unet_small and DIGITS' fcn_alexnet (Caffe) under AMP + channels_last: score maps, the confusion
    matrix on the GPU, the Caffe Deconvolution + Crop."""
    import segkit
    from digits.networks import standard_network
    masks = segkit.make_mask_dataset(str(tmp_path / "masks"), {"train": 64, "val": 16}, size=(64, 64))
    for name, framework, epochs in (("unet_small", "torch", 4), ("fcn_alexnet", "caffe", 1)):
        network = standard_network(name, framework, "segmentation")
        job_dir = trainkit.make_job(str(tmp_path / name), masks, network=network, framework=framework,
                                    task_type="segmentation", train_epochs=epochs, batch_size=8, solver_type="ADAM",
                                    learning_rate=0.001 if framework == "caffe" else 0.01,
                                    lr_policy={"policy": "fixed"}, use_mean="none", weight_decay=0.0,
                                    augmentation={"flip": "fliplr", "rot": 5}, crop_size=56)
        code, msgs = run_in_process(job_dir)
        assert code == 0, of_type(msgs, "error")
        assert metrics(msgs, "val", "mIoU") and metrics(msgs, "val", "IoU_2")
    assert metrics(msgs, "val", "pixel_accuracy")[-1][1] > 0
