"""The framework registry: every network language the server trains is one engine, declared here.

    get_framework(name, aliases=True) -> Framework   by name (or alias), any case; NetworkError naming
                                                     the choices for an unknown one
    frameworks() -> [Framework]                      built-ins first, then plugins, in registration order
    names() -> ("caffe", "torch", ...)               the canonical names: what job.json, train_config.json
                                                     and info.json store
    framework_of_file(path) -> name | None           the engine whose network suffix an upload has
    runs_user_code(name) -> bool                     building runs the network file as code
    register(engine) / unregister(name)
    DEFAULT                                          the new-model form's preselected engine

Engines are the built-ins (digits.frameworks.caffe_engine, torch_engine), then the entry points of the
group `digits.plugins.framework` (each loads a Framework subclass or instance), collected on first use
in each process — the web server, the check/inference worker and the training tool all see the same
ones, so an engine is installed by installing its package. This module and every engine module are
imported by the web process, which never loads torch: an engine imports torch (and its builder) inside
its methods only.

Adding an engine (e.g. TensorFlow): one module with a Framework subclass, registered by an entry point
    setup(entry_points={"digits.plugins.framework": ["tensorflow = my_pkg.tf_engine:TensorFlow"]})
Attributes (class attributes are enough):
    name             canonical lower-case name, stored in job folders ("tensorflow"); never change it
    aliases          other names accepted wherever a name is looked up, lower case (("tf", "keras"))
    title            the new-model form's label for the choice ("TensorFlow (Keras)")
    network_file     the name the definition gets in a model folder and the download archive
                     ("network.keras.py"); unique among engines
    network_suffixes file endings that identify an uploaded definition, lower case, network_file's
                     included; unique among engines (the upload picks the engine by them)
    default_scale    factor on 0..255 pixels (after the mean) when the network declares none
                     (Network.scale is None): Caffe 1.0, Python networks 1/255
    runs_user_code   True when building executes the file (Python code): with DIGITS_PYTHON_NETWORKS=0
                     such a file is refused unless it is one of our standard networks
    train_tool       the digits.tools module that trains a job ("train": python -m digits.tools.train)
    loss_required    True when a generic model's network must declare its loss (Caffe: a loss layer;
                     Network.loss_spec), False when the task type's loss stands in (Python networks)
Methods:
    build(source_text, input_shape, num_classes, aux_losses) -> Network
        input_shape (C, H, W) and num_classes (K, or None: do not force the output size) are already
        checked. Raise NetworkError (digits.frameworks.errors) with a message the user can act on for
        anything wrong in the definition, and check the result with a dummy forward pass so a misfit
        fails here rather than in training. aux_losses=True is asked by training only (extra loss
        branches in module.aux_layers / module.aux_outputs; engines without them ignore it).
    standard_network(name) -> source text of digits.networks' standard network `name`, or None when
        the engine has none by that name (the form's "Standard network" choice then fails cleanly).
    graph(network) -> {"nodes": [...], "edges": [...]} for "Visualize network" (digits.frameworks.graph
        draws layer lists — layer_graph — and traced torch modules — module_graph, the default).

What the rest of the server expects of the built Network (digits.frameworks.network): training
(digits.model.trainer), inference (digits.inference.loader) and the archive's TorchScript/ONNX exports
all run `network.module`, so it must be a torch nn.Module mapping float32 N×C×H×W (preprocessed, see
digits.model.preprocess) to N×K logits in eval mode, traceable by torch.jit.trace and torch.onnx. Its
state_dict is what snapshots hold and what inference loads back (strict) into a fresh build of the same
file: building must be deterministic in names and shapes. `framework` is the engine's name; scale,
crop_size, default_batch_size and mirror are the definition's own settings or None/False; layers
(LayerInfo) feed the visualization and the weights table; param_specs ({param: {"lr_mult",
"decay_mult"}}), loss / loss_spec / loss_fn and aux are optional training hints; warnings are shown to
the user. A TensorFlow engine therefore translates its definition into torch modules; one that trains
natively would also need its own train_tool and, for inference and exports, a torch-compatible module.
"""
import importlib

from digits.frameworks.errors import NetworkError
from digits.utils.plugins import LoadOnce, load_entry_points


ENTRY_POINT_GROUP = "digits.plugins.framework"
BUILTINS = ("digits.frameworks.caffe_engine", "digits.frameworks.torch_engine")
DEFAULT = "caffe"

_engines = {}     # name -> Framework, in registration order


class Framework:
    """One engine; subclass it and set/override what the module docstring lists."""
    name = ""
    aliases = ()
    title = ""
    network_file = ""
    network_suffixes = ()
    default_scale = 1.0
    runs_user_code = False
    train_tool = "train"
    loss_required = False

    def build(self, source_text, input_shape, num_classes, aux_losses=False):
        raise NotImplementedError

    def standard_network(self, name):
        return None

    def graph(self, network):
        from digits.frameworks.graph import module_graph
        return module_graph(network)

    def __repr__(self):
        return f"<Framework {self.name}>"


def _fill():
    for module in BUILTINS:
        register(importlib.import_module(module).ENGINE)
    load_entry_points(ENTRY_POINT_GROUP, register, "framework")


_load = LoadOnce(_fill)


def _claims(engine):
    return {engine.name, *engine.aliases}


def register(engine):
    """Adds an engine (a Framework instance, or a subclass: instantiated); returns the instance.
    ValueError when its name, aliases, network file or suffixes clash with an engine's already there."""
    _load()
    if isinstance(engine, type):
        engine = engine()
    if not engine.name or engine.name != engine.name.lower() or not engine.network_file:
        raise ValueError(f"framework {engine!r} needs a lower-case name and a network_file")
    if not engine.network_file.lower().endswith(tuple(engine.network_suffixes)):
        raise ValueError(f'framework "{engine.name}": network_file {engine.network_file!r} has none of its '
                         f"network_suffixes {tuple(engine.network_suffixes)}")
    for other in _engines.values():
        clash = (_claims(engine) & _claims(other) or set(engine.network_suffixes) & set(other.network_suffixes)
                 or ({engine.network_file} & {other.network_file}))
        if clash:
            raise ValueError(f'framework "{engine.name}" clashes with "{other.name}" over {", ".join(sorted(clash))}')
    _engines[engine.name] = engine
    return engine


def unregister(name):
    _load()
    _engines.pop(name, None)


def frameworks():
    _load()
    return list(_engines.values())


def names():
    _load()
    return tuple(_engines)


def get_framework(name, aliases=True):
    """The engine called `name` (any case); aliases=False: canonical names only (stored values).
    NetworkError (a ValueError) naming the choices otherwise."""
    _load()
    wanted = str(name).lower()
    for engine in _engines.values():
        if wanted == engine.name or (aliases and wanted in engine.aliases):
            return engine
    raise NetworkError(f'unknown framework "{name}" (use one of: {", ".join(_engines)})')


def framework_of_file(path):
    """Name of the engine an uploaded definition's suffix belongs to; None when none claims it."""
    lowered = str(path).lower()
    for engine in frameworks():
        if lowered.endswith(tuple(engine.network_suffixes)):
            return engine.name
    return None


def runs_user_code(name):
    """Whether building `name`'s networks runs the file as code; False for an unknown name (building
    refuses those anyway, with the list of frameworks)."""
    try:
        return get_framework(name).runs_user_code
    except NetworkError:
        return False
