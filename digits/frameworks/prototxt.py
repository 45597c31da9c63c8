"""Reading Caffe network text: NetParameter parsing (with line numbers), the old V1 `layers` form,
and Caffe's include/exclude rules."""
import re

from google.protobuf import text_format

from digits.frameworks.errors import NetworkError
from digits.proto import caffe_pb2

# V1LayerParameter.LayerType enum names -> the modern type strings (Caffe's UpgradeV1LayerType).
_V1_TYPES = {
    "ABSVAL": "AbsVal", "ACCURACY": "Accuracy", "ARGMAX": "ArgMax", "BNLL": "BNLL", "CONCAT": "Concat",
    "CONTRASTIVE_LOSS": "ContrastiveLoss", "CONVOLUTION": "Convolution", "DATA": "Data",
    "DECONVOLUTION": "Deconvolution", "DROPOUT": "Dropout", "DUMMY_DATA": "DummyData",
    "EUCLIDEAN_LOSS": "EuclideanLoss", "ELTWISE": "Eltwise", "EXP": "Exp", "FLATTEN": "Flatten",
    "HDF5_DATA": "HDF5Data", "HDF5_OUTPUT": "HDF5Output", "HINGE_LOSS": "HingeLoss", "IM2COL": "Im2col",
    "IMAGE_DATA": "ImageData", "INFOGAIN_LOSS": "InfogainLoss", "INNER_PRODUCT": "InnerProduct", "LRN": "LRN",
    "MEMORY_DATA": "MemoryData", "MULTINOMIAL_LOGISTIC_LOSS": "MultinomialLogisticLoss", "MVN": "MVN",
    "POOLING": "Pooling", "POWER": "Power", "RELU": "ReLU", "SIGMOID": "Sigmoid",
    "SIGMOID_CROSS_ENTROPY_LOSS": "SigmoidCrossEntropyLoss", "SILENCE": "Silence", "SOFTMAX": "Softmax",
    "SOFTMAX_LOSS": "SoftmaxWithLoss", "SPLIT": "Split", "SLICE": "Slice", "TANH": "TanH",
    "WINDOW_DATA": "WindowData", "THRESHOLD": "Threshold",
}
_V1_PARAMS = [f.name for f in caffe_pb2.V1LayerParameter.DESCRIPTOR.fields if f.name.endswith("_param")]

# Tokens that matter for finding where each top-level layer block starts.
_TOKEN = re.compile(r'#[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|[{}]|[A-Za-z_][A-Za-z0-9_]*|\n')


def parse_net(text):
    """NetParameter from prototxt text; the V1 `layers` form is upgraded to `layer`.

    Returns (net, lines) where lines[i] is the 1-based line where net.layer[i] starts.
    """
    net = caffe_pb2.NetParameter()
    try:
        text_format.Parse(text, net)
    except text_format.ParseError as exc:
        line, column = exc.GetLine(), exc.GetColumn()
        message = str(exc)
        message = re.sub(r"^\d+:\d+ : ", "", message)
        raise NetworkError(f"Syntax error in the network definition at line {line}, column {column}: {message}",
                           line=line) from None
    starts = _block_lines(text)
    if net.layers:
        if net.layer:
            raise NetworkError('The network mixes "layer" and the deprecated "layers" blocks; use only "layer"')
        upgrade_v1(net)
        return net, starts.get("layers", [])
    return net, starts.get("layer", [])


def _block_lines(text):
    """{"layer": [line, ...], "layers": [...]}: where each top-level block of that name starts."""
    found = {"layer": [], "layers": []}
    depth, line, pending = 0, 1, None
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token == "\n":
            line += 1
        elif token == "{":
            if depth == 0 and pending:
                found[pending[0]].append(pending[1])
            depth += 1
            pending = None
        elif token == "}":
            depth = max(0, depth - 1)
        elif token[0] not in "#\"'":
            pending = (token, line) if depth == 0 and token in found else None
    return found


def upgrade_v1(net):
    """Converts the deprecated V1LayerParameter list into LayerParameter (what Caffe's upgrade does);
    a .caffemodel's blobs come along (digits.frameworks.caffemodel reads V1 files through this)."""
    old_layers = list(net.layers)
    del net.layers[:]
    for old in old_layers:
        layer = net.layer.add()
        layer.name = old.name
        type_name = caffe_pb2.V1LayerParameter.LayerType.Name(old.type)
        layer.type = _V1_TYPES.get(type_name, type_name)
        layer.bottom.extend(old.bottom)
        layer.top.extend(old.top)
        layer.blobs.extend(old.blobs)
        layer.include.extend(old.include)
        layer.exclude.extend(old.exclude)
        layer.loss_weight.extend(old.loss_weight)
        for i in range(max(len(old.blobs_lr), len(old.weight_decay))):
            spec = layer.param.add()
            if i < len(old.blobs_lr):
                spec.lr_mult = old.blobs_lr[i]
            if i < len(old.weight_decay):
                spec.decay_mult = old.weight_decay[i]
        for name in _V1_PARAMS:
            if old.HasField(name):
                getattr(layer, name).CopyFrom(getattr(old, name))


def train_state():
    """The state the module is built for: Caffe's TRAIN phase and DIGITS' "train" stage."""
    return caffe_pb2.NetState(phase=caffe_pb2.TRAIN, level=0, stage=["train"])


def _meets(state, rule):
    if rule.HasField("phase") and rule.phase != state.phase:
        return False
    if rule.HasField("min_level") and state.level < rule.min_level:
        return False
    if rule.HasField("max_level") and state.level > rule.max_level:
        return False
    stages = set(state.stage)
    if any(stage not in stages for stage in rule.stage):
        return False
    return not any(stage in stages for stage in rule.not_stage)


def included(layer, state):
    """Caffe's Net::FilterNet rule: any met include rule includes, any met exclude rule excludes."""
    if layer.include:
        return any(_meets(state, rule) for rule in layer.include)
    return not any(_meets(state, rule) for rule in layer.exclude)
