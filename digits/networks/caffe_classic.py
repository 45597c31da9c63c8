"""LeNet, AlexNet and GoogLeNet as DIGITS shipped them for Caffe (digits/standard-networks/caffe)."""
from digits.networks.prototxt_writer import NetWriter

NUM_OUTPUT_NOTE = ("The last InnerProduct has no num_output: DIGITS sets it to the number of classes\n"
                   "in your dataset. Add num_output to that layer to set it explicitly.")


def lenet():
    w = NetWriter("LeNet")
    # 1/(standard deviation) of MNIST pixels; the deploy stage scales raw inputs with a Power layer.
    w.digits_data("scaled", 64, 100, scale=0.0125)
    w.layer("scale", "Power", "data", "scaled", power_param={"scale": 0.0125}, include=[{"stage": ["deploy"]}])
    w.conv("conv1", "scaled", 20, 5)
    w.pool("pool1", "conv1", "MAX", 2, 2)
    w.conv("conv2", "pool1", 50, 5)
    w.pool("pool2", "conv2", "MAX", 2, 2)
    w.inner_product("ip1", "pool2", 500)
    w.relu("relu1", "ip1")
    w.inner_product("ip2", "ip1")
    w.digits_outputs("ip2")
    return w.text(f"LeNet (28×28 grayscale, e.g. MNIST)\n{NUM_OUTPUT_NOTE}")


def alexnet():
    w = NetWriter("AlexNet")
    w.digits_data("data", 100, 100, crop_size=227, mirror=True)
    gauss = {"type": "gaussian", "std": 0.01}
    lrn = {"local_size": 5, "alpha": 0.0001, "beta": 0.75}
    blob = "data"
    for i, (num, kernel, stride, pad, group, bias, norm_pool) in enumerate([
            (96, 11, 4, 0, 1, 0.0, True), (256, 5, 1, 2, 2, 0.1, True), (384, 3, 1, 1, 1, 0.0, False),
            (384, 3, 1, 1, 2, 0.1, False), (256, 3, 1, 1, 2, 0.1, False)], start=1):
        w.conv(f"conv{i}", blob, num, kernel, stride, pad, group, weight_filler=gauss, bias_value=bias)
        w.relu(f"relu{i}", f"conv{i}")
        blob = f"conv{i}"
        if norm_pool:
            w.layer(f"norm{i}", "LRN", blob, f"norm{i}", lrn_param=lrn)
            blob = f"norm{i}"
        if i in (1, 2, 5):
            w.pool(f"pool{i}", blob, "MAX", 3, 2)
            blob = f"pool{i}"
    for i in (6, 7):
        w.inner_product(f"fc{i}", blob, 4096, {"type": "gaussian", "std": 0.005}, 0.1)
        w.relu(f"relu{i}", f"fc{i}")
        w.layer(f"drop{i}", "Dropout", f"fc{i}", f"fc{i}", dropout_param={"dropout_ratio": 0.5})
        blob = f"fc{i}"
    w.inner_product("fc8", blob, None, gauss, 0.0)
    w.digits_outputs("fc8")
    return w.text(f"AlexNet (256×256 color images, random 227×227 crops)\n{NUM_OUTPUT_NOTE}")


# GoogLeNet inception modules: 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection.
_INCEPTION = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64), "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}


def _conv_relu(w, name, relu_name, bottom, num, kernel, stride=1, pad=0):
    w.conv(name, bottom, num, kernel, stride, pad, bias_value=0.2)
    w.relu(relu_name, name)


def _inception(w, tag, bottom):
    n1, n3r, n3, n5r, n5, npool = _INCEPTION[tag]
    p = f"inception_{tag}"
    _conv_relu(w, f"{p}/1x1", f"{p}/relu_1x1", bottom, n1, 1)
    _conv_relu(w, f"{p}/3x3_reduce", f"{p}/relu_3x3_reduce", bottom, n3r, 1)
    _conv_relu(w, f"{p}/3x3", f"{p}/relu_3x3", f"{p}/3x3_reduce", n3, 3, pad=1)
    _conv_relu(w, f"{p}/5x5_reduce", f"{p}/relu_5x5_reduce", bottom, n5r, 1)
    _conv_relu(w, f"{p}/5x5", f"{p}/relu_5x5", f"{p}/5x5_reduce", n5, 5, pad=2)
    w.pool(f"{p}/pool", bottom, "MAX", 3, 1, 1)
    _conv_relu(w, f"{p}/pool_proj", f"{p}/relu_pool_proj", f"{p}/pool", npool, 1)
    w.layer(f"{p}/output", "Concat", [f"{p}/1x1", f"{p}/3x3", f"{p}/5x5", f"{p}/pool_proj"], f"{p}/output")
    return f"{p}/output"


def _googlenet_head(w, prefix, bottom, weight):
    """Classifier + loss (+ top-1/top-5 accuracy in TEST); the auxiliary heads carry weight 0.3."""
    classifier = f"{prefix}/classifier"
    w.inner_product(classifier, bottom)
    w.layer(f"{prefix}/loss" if prefix != "loss3" else "loss3/loss3", "SoftmaxWithLoss", [classifier, "label"],
            f"{prefix}/{prefix}", loss_weight=[weight])
    for k in (1, 5):
        fields = {"accuracy_param": {"top_k": 5}} if k == 5 else {}
        w.layer(f"{prefix}/top-{k}", "Accuracy", [classifier, "label"], f"{prefix}/top-{k}",
                include=[{"phase": "TEST"}], **fields)


def _aux_branch(w, prefix, bottom):
    w.pool(f"{prefix}/ave_pool", bottom, "AVE", 5, 3)
    _conv_relu(w, f"{prefix}/conv", f"{prefix}/relu_conv", f"{prefix}/ave_pool", 128, 1)
    w.inner_product(f"{prefix}/fc", f"{prefix}/conv", 1024, bias_value=0.2)
    w.relu(f"{prefix}/relu_fc", f"{prefix}/fc")
    w.layer(f"{prefix}/drop_fc", "Dropout", f"{prefix}/fc", f"{prefix}/fc", dropout_param={"dropout_ratio": 0.7})
    _googlenet_head(w, prefix, f"{prefix}/fc", 0.3)


def googlenet():
    w = NetWriter("GoogleNet")
    for phase, mirror in (("TRAIN", True), ("TEST", False)):
        w.layer("data", "Data", (), ["data", "label"], include=[{"phase": phase}],
                transform_param={"mirror": mirror, "crop_size": 224}, data_param={"batch_size": 24})
    _conv_relu(w, "conv1/7x7_s2", "conv1/relu_7x7", "data", 64, 7, 2, 3)
    w.pool("pool1/3x3_s2", "conv1/7x7_s2", "MAX", 3, 2)
    lrn = {"local_size": 5, "alpha": 0.0001, "beta": 0.75}
    w.layer("pool1/norm1", "LRN", "pool1/3x3_s2", "pool1/norm1", lrn_param=lrn)
    _conv_relu(w, "conv2/3x3_reduce", "conv2/relu_3x3_reduce", "pool1/norm1", 64, 1)
    _conv_relu(w, "conv2/3x3", "conv2/relu_3x3", "conv2/3x3_reduce", 192, 3, pad=1)
    w.layer("conv2/norm2", "LRN", "conv2/3x3", "conv2/norm2", lrn_param=lrn)
    w.pool("pool2/3x3_s2", "conv2/norm2", "MAX", 3, 2)
    blob = _inception(w, "3b", _inception(w, "3a", "pool2/3x3_s2"))
    w.pool("pool3/3x3_s2", blob, "MAX", 3, 2)
    blob = _inception(w, "4a", "pool3/3x3_s2")
    _aux_branch(w, "loss1", blob)
    for tag in ("4b", "4c", "4d"):
        blob = _inception(w, tag, blob)
    _aux_branch(w, "loss2", blob)
    blob = _inception(w, "4e", blob)
    w.pool("pool4/3x3_s2", blob, "MAX", 3, 2)
    blob = _inception(w, "5b", _inception(w, "5a", "pool4/3x3_s2"))
    w.pool("pool5/7x7_s1", blob, "AVE", 7, 1)
    w.layer("pool5/drop_7x7_s1", "Dropout", "pool5/7x7_s1", "pool5/7x7_s1", dropout_param={"dropout_ratio": 0.4})
    _googlenet_head(w, "loss3", "pool5/7x7_s1", 1.0)
    return w.text("GoogLeNet (256×256 color images, random 224×224 crops), with the two auxiliary classifiers\n"
                  "used for training.\n" + NUM_OUTPUT_NOTE)
