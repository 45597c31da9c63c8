"""A Caffe network with an auxiliary classifier trains it (weighted loss), snapshots keep its weights
apart from the inference weights, and a resumed run restores them."""
import os

import torch

import trainkit
from trainkit import metrics, of_type, run_in_process

AUX_NET = """
input: "data"
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 4 kernel_size: 3 stride: 2 weight_filler { type: "xavier" } } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "aux/fc" type: "InnerProduct" bottom: "conv1" top: "aux/fc" inner_product_param { num_output: 4
        weight_filler { type: "xavier" } } }
layer { name: "aux/loss" type: "SoftmaxWithLoss" bottom: "aux/fc" bottom: "label" loss_weight: 0.3 }
layer { name: "fc" type: "InnerProduct" bottom: "conv1" top: "fc" inner_product_param { num_output: 4
        weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" }
"""


def test_aux_branch_trains_and_snapshots_apart(tmp_path, dataset_dir):
    from digits.frameworks import build_network

    job_dir = trainkit.make_job(str(tmp_path / "job"), dataset_dir, network=AUX_NET, framework="caffe",
                                train_epochs=2, learning_rate=0.01)
    code, msgs = run_in_process(job_dir)
    assert code == 0, of_type(msgs, "error")
    assert metrics(msgs, "val", "accuracy")[-1][1] >= 90.0
    state = torch.load(os.path.join(job_dir, "snapshot_epoch_1.pt"), weights_only=True)
    assert set(state["aux_model"]) == {"aux_layers.aux/fc.weight", "aux_layers.aux/fc.bias"}
    assert not any(k.startswith("aux_layers.") for k in state["model"])
    # what inference builds (no aux branch) takes the "model" weights as they are
    network = build_network("caffe", AUX_NET, (3, 16, 16), 4)
    network.module.load_state_dict(state["model"], strict=True)
    first = torch.load(os.path.join(job_dir, "snapshot_epoch_2.pt"), weights_only=True)["aux_model"]
    assert not torch.equal(first["aux_layers.aux/fc.weight"], state["aux_model"]["aux_layers.aux/fc.weight"])

    os.remove(os.path.join(job_dir, "snapshot_epoch_2.pt"))
    code, again = run_in_process(job_dir)
    assert code == 0, of_type(again, "error")
    assert not of_type(again, "warning") or all("auxiliary" not in m["message"] for m in of_type(again, "warning"))
    assert metrics(again, "val") == metrics(msgs, "val")  # aux weights restored exactly
