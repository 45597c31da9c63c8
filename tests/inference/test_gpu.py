"""On a GPU the worker computes the same probabilities as on the CPU (TF32 off), within 1e-4."""
import pytest
import torch

from tests.inference.kit import CLASSES, probe_files

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


@pytest.mark.parametrize("model", ["torch_model", "caffe_model"])
def test_cuda_matches_cpu(world, model):
    from digits.inference.images import load_resized, network_input
    from digits.inference.jobs import model_spec
    from digits.inference.loader import load_model, pick_device
    spec, _ = model_spec(getattr(world, model))
    cpu, gpu = load_model(spec, pick_device("cpu")), load_model(spec, pick_device("cuda"))
    paths = [p for name in CLASSES for p in probe_files(world, name)]
    batch = network_input([load_resized(p, cpu.pre) for p in paths], cpu.pre)
    expected, got = cpu.probabilities(batch), gpu.probabilities(batch)
    assert torch.equal(expected.argmax(1), got.argmax(1))
    assert float((expected - got).abs().max()) < 1e-4


def test_visualizations_and_exports_on_cuda(world, tmp_path):
    from digits.inference.export import export
    from digits.inference.images import load_resized, network_input
    from digits.inference.jobs import model_spec
    from digits.inference.loader import load_model, pick_device
    from digits.inference.visualize import visualizations
    spec, _ = model_spec(world.caffe_model)
    model = load_model(spec, pick_device("cuda"))
    batch = network_input([load_resized(probe_files(world, "red")[0], model.pre)], model.pre)
    assert {e["name"] for e in visualizations(model, batch)} >= {"data", "conv1", "fc"}
    assert set(export(model, str(tmp_path))) == {"weights", "torchscript", "onnx"}
    assert next(model.module.parameters()).device.type == "cuda"   # moved back after the CPU export
