"""Writing Caffe network text through caffe_pb2, so generated standard networks are valid by
construction. Nested dicts/lists map to sub-messages/repeated fields; enum values go by name."""
from google.protobuf import text_format

from digits.proto import caffe_pb2

# Caffe's customary multipliers: weights learn at the base rate, biases twice as fast without decay.
WEIGHT_AND_BIAS = [{"lr_mult": 1, "decay_mult": 1}, {"lr_mult": 2, "decay_mult": 0}]
WEIGHT_ONLY = [{"lr_mult": 1, "decay_mult": 1}]


def _set(message, name, value):
    field = message.DESCRIPTOR.fields_by_name[name]
    if isinstance(value, dict):
        target = getattr(message, name)
        target.SetInParent()
        for key, item in value.items():
            _set(target, key, item)
    elif isinstance(value, (list, tuple)):
        repeated = getattr(message, name)
        for item in value:
            if isinstance(item, dict):
                sub = repeated.add()
                for key, v in item.items():
                    _set(sub, key, v)
            else:
                repeated.append(_scalar(field, item))
    else:
        setattr(message, name, _scalar(field, value))


def _scalar(field, value):
    if field.enum_type is not None and isinstance(value, str):
        return field.enum_type.values_by_name[value].number
    return value


class NetWriter:
    def __init__(self, name):
        self.net = caffe_pb2.NetParameter(name=name)

    def layer(self, name, type_, bottom=(), top=(), **fields):
        layer = self.net.layer.add(name=name, type=type_)
        layer.bottom.extend([bottom] if isinstance(bottom, str) else bottom)
        layer.top.extend([top] if isinstance(top, str) else top)
        for key, value in fields.items():
            _set(layer, key, value)
        return layer

    def text(self, header):
        comments = "".join(f"# {line}\n" if line else "#\n" for line in header.strip().splitlines())
        return comments + text_format.MessageToString(self.net)

    # --- common building blocks -------------------------------------------------------------

    def conv(self, name, bottom, num_output, kernel, stride=1, pad=0, group=1, top=None, bias=True,
             weight_filler=None, bias_value=0.0):
        param = {"num_output": num_output, "kernel_size": [kernel], "weight_filler": weight_filler or {"type": "xavier"}}
        if pad:
            param["pad"] = [pad]
        if stride != 1:
            param["stride"] = [stride]
        if group != 1:
            param["group"] = group
        if bias:
            param["bias_filler"] = {"type": "constant", "value": bias_value}
        else:
            param["bias_term"] = False
        return self.layer(name, "Convolution", bottom, top or name, param=WEIGHT_AND_BIAS if bias else WEIGHT_ONLY,
                          convolution_param=param)

    def relu(self, name, blob):
        return self.layer(name, "ReLU", blob, blob)

    def pool(self, name, bottom, method, kernel=None, stride=1, pad=0, global_pooling=False):
        param = {"pool": method}
        if global_pooling:
            param["global_pooling"] = True
        else:
            param.update(kernel_size=kernel, stride=stride)
            if pad:
                param["pad"] = pad
        return self.layer(name, "Pooling", bottom, name, pooling_param=param)

    def inner_product(self, name, bottom, num_output=None, weight_filler=None, bias_value=0.0):
        param = {"weight_filler": weight_filler or {"type": "xavier"},
                 "bias_filler": {"type": "constant", "value": bias_value}}
        if num_output:
            param["num_output"] = num_output
        return self.layer(name, "InnerProduct", bottom, name, param=WEIGHT_AND_BIAS, inner_product_param=param)

    def batch_norm(self, bn_name, scale_name, blob):
        """Caffe's BatchNorm (statistics only, lr_mult 0) + Scale with bias: torch's affine BatchNorm."""
        self.layer(bn_name, "BatchNorm", blob, blob, param=[{"lr_mult": 0, "decay_mult": 0}] * 3,
                   batch_norm_param={})
        self.layer(scale_name, "Scale", blob, blob, scale_param={"bias_term": True})

    def digits_data(self, top, batch_train, batch_val, scale=None, crop_size=None, mirror=False):
        """DIGITS-style data layers: one per stage, DIGITS fills in the sources."""
        for stage, batch in (("train", batch_train), ("val", batch_val)):
            transform = {}
            if scale:
                transform["scale"] = scale
            if mirror and stage == "train":
                transform["mirror"] = True
            if crop_size:
                transform["crop_size"] = crop_size
            fields = {"transform_param": transform} if transform else {}
            self.layer(f"{stage}-data", "Data", (), [top, "label"], include=[{"stage": [stage]}],
                       data_param={"batch_size": batch}, **fields)

    def digits_outputs(self, bottom):
        """Accuracy in validation, the loss in training and validation, softmax probabilities on deploy."""
        self.layer("accuracy", "Accuracy", [bottom, "label"], "accuracy", include=[{"stage": ["val"]}])
        self.layer("loss", "SoftmaxWithLoss", [bottom, "label"], "loss", exclude=[{"stage": ["deploy"]}])
        self.layer("softmax", "Softmax", bottom, "softmax", include=[{"stage": ["deploy"]}])
