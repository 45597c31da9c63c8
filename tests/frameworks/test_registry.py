"""The framework registry: lookups by name and alias, unknown names, an engine added through it being
offered and accepted everywhere a framework is chosen, and the web process staying torch-free."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from digits.frameworks import NetworkError, build_network, network_graph, registry
from digits.frameworks.registry import Framework, framework_of_file, frameworks, get_framework, names

from tests.helpers import ROOT, login


class Fake(Framework):
    name = "fake"
    aliases = ("phony",)
    title = "Fake engine"
    network_file = "network.fake"
    network_suffixes = (".fake",)
    default_scale = 0.5

    def build(self, source_text, input_shape, num_classes, aux_losses=False):
        from torch import nn

        from digits.frameworks.network import Network
        c, h, w = input_shape
        module = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, num_classes or 1))
        return Network(module, self.name, tuple(input_shape), num_classes)

    def standard_network(self, name):
        return f"fake {name}" if name == "lenet" else None


@pytest.fixture
def fake():
    engine = registry.register(Fake)
    yield engine
    registry.unregister("fake")


def test_builtins_by_name_and_alias():
    assert names()[:2] == ("caffe", "torch")
    assert [e.name for e in frameworks()][:2] == ["caffe", "torch"]
    for alias in ("caffe", "Prototxt", "CAFFE"):
        assert get_framework(alias).name == "caffe"
    for alias in ("torch", "pytorch", "Python"):
        assert get_framework(alias).name == "torch"
    assert get_framework("caffe").network_file == "network.prototxt"
    assert get_framework("torch").network_file == "network.py"
    assert (get_framework("caffe").default_scale, get_framework("torch").default_scale) == (1.0, 1.0 / 255.0)
    assert get_framework("torch").runs_user_code and not get_framework("caffe").runs_user_code
    assert {e.train_tool for e in frameworks()} == {"train"}
    assert framework_of_file("LeNet.PROTOTXT") == "caffe" and framework_of_file("net.py") == "torch"
    assert framework_of_file("weights.pt") is None


def test_unknown_framework_names_the_choices():
    with pytest.raises(NetworkError, match=r'unknown framework "tensorflow" \(use one of: caffe, torch'):
        get_framework("tensorflow")
    with pytest.raises(ValueError, match="unknown framework"):
        get_framework("pytorch", aliases=False)   # stored values are canonical names
    assert not registry.runs_user_code("tensorflow")


def test_clashing_engines_are_refused(fake):
    class Twin(Fake):
        name = "twin"
    with pytest.raises(ValueError, match='"twin" clashes with "fake"'):
        registry.register(Twin)
    assert "twin" not in names()


def test_a_registered_engine_builds_draws_and_is_stored(fake, tmp_path):
    from digits.model import preprocess, trainer_config
    from digits.networks import standard_network

    assert get_framework("Phony") is fake and names()[-1] == "fake"
    network = build_network("fake", "anything", (1, 4, 4), 3)
    assert network.framework == "fake" and network.module.__class__.__name__ == "Sequential"
    assert network_graph("phony", "anything", (1, 4, 4), 3)["nodes"][0]["type"] == "Input"
    assert preprocess.default_scale("fake") == 0.5
    assert standard_network("lenet", "fake") == "fake lenet"
    with pytest.raises(ValueError, match='"fake" has no standard network "alexnet"'):
        standard_network("alexnet", "fake")
    assert framework_of_file("model.FAKE") == "fake"
    (tmp_path / "network.fake").write_text("anything")
    (tmp_path / "data").mkdir()
    config = trainer_config.check({"dataset_dir": str(tmp_path / "data"),
                                   "network": {"framework": "fake", "file": "network.fake"}}, str(tmp_path))
    assert config["network"]["framework"] == "fake"


def test_a_registered_engine_is_a_model_form_choice(app, fake):
    client = login(app.test_client())
    page = client.get("/models/images/classification/new").get_data(as_text=True)
    assert 'value="fake"' in page and "Fake engine" in page
    # a form error elsewhere (momentum), so no job is made: the framework itself is accepted
    fields = {"method": "standard", "standard_networks": "lenet", "train_epochs": "1", "model_name": "m",
              "dataset": "none-yet", "momentum": "1"}
    errors = client.post("/models/images/classification.json", data=dict(fields, framework="fake")).get_json()
    assert "momentum" in errors["errors"] and "framework" not in errors["errors"]
    registry.unregister("fake")
    errors = client.post("/models/images/classification.json", data=dict(fields, framework="fake")).get_json()
    assert "framework" in errors["errors"]


NO_TORCH = textwrap.dedent("""
    import json, sys, tempfile
    import digits.webapp
    from tests.helpers import login
    root = tempfile.mkdtemp()
    app = digits.webapp.create_app({"jobs_dir": root, "async_mode": "threading", "testing": True,
                                    "allowed_roots": [root], "gpus": [], "secret_key": "test"})
    try:
        client = login(app.test_client())
        pages = [client.get(url).status_code for url in (
            "/", "/models/images/classification/new", "/pretrained_models/new",
            "/models/networks/lenet.json?framework=caffe", "/models/networks/lenet.json?framework=torch")]
        from digits.frameworks import registry
        engines = registry.names()
    finally:
        app.extensions["digits"]["scheduler"].stop()
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision"))
    print(json.dumps({"pages": pages, "engines": engines, "loaded": loaded[:10]}))
""")


def test_the_web_app_loads_no_torch():
    env = dict(os.environ, PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, "-c", NO_TORCH], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["pages"] == [200] * 5 and result["engines"][:2] == ["caffe", "torch"]
    assert result["loaded"] == [], f"the web process imported {result['loaded']}"


def test_the_first_lookups_in_parallel_all_see_the_whole_registry():
    # Two requests arriving together at a fresh server: the one that did not start filling the
    # registry must wait for it, not see it half-filled (a valid framework was refused).
    import threading
    from digits.utils.plugins import LoadOnce
    filled, seen = [], []
    gate = threading.Event()

    def fill():
        gate.wait(2)
        filled.append("caffe")
        load()   # a module registering itself while being imported does not recurse

    load = LoadOnce(fill)

    def lookup():
        load()
        seen.append(list(filled))
    threads = [threading.Thread(target=lookup) for _ in range(3)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(5)
    assert seen == [["caffe"]] * 3
