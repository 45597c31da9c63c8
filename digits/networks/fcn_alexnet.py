"""FCN-AlexNet as DIGITS' semantic-segmentation example defines it (examples/semantic-segmentation/
fcn_alexnet.prototxt; Long, Shelhamer and Darrell 2015): AlexNet with fc6/fc7 as convolutions, its
input padded by 100 so the score map covers any image, a 1×1 score layer, a per-class bilinear
upsampling by 32 (Deconvolution, lr_mult 0: it stays bilinear) and a Crop back to the input's size
(offset 18 makes the upsampled map line up with the image). Same layer names, types and parameters."""
from digits.networks.prototxt_writer import NetWriter

VOC_CLASSES = 21
NOTE = (f"score_fr and upscore give {VOC_CLASSES} scores per pixel (PASCAL VOC's classes, as DIGITS' example);\n"
        "they are set to the number of classes of your dataset. The Power layer subtracts a mean of 116.")
_LRN = {"local_size": 5, "alpha": 0.0001, "beta": 0.75}


def _conv(w, name, bottom, num_output, kernel, stride=1, pad=0, group=1):
    w.layer(name, "Convolution", bottom, name, convolution_param={
        "num_output": num_output, "pad": [pad], "kernel_size": [kernel], "group": group, "stride": [stride]})
    w.relu(name.replace("conv", "relu").replace("fc", "relu"), name)


def fcn_alexnet():
    w = NetWriter("FCN-AlexNet")
    for phase in ("TRAIN", "TEST"):
        for top in ("data", "label"):
            w.layer(top, "Data", (), top, include=[{"phase": phase}], data_param={"batch_size": 1, "backend": "LMDB"})
    w.layer("shift", "Power", "data", "data_preprocessed", power_param={"shift": -116.0})
    _conv(w, "conv1", "data_preprocessed", 96, 11, stride=4, pad=100)
    w.pool("pool1", "conv1", "MAX", 3, 2)
    w.layer("norm1", "LRN", "pool1", "norm1", lrn_param=_LRN)
    _conv(w, "conv2", "norm1", 256, 5, pad=2, group=2)
    w.pool("pool2", "conv2", "MAX", 3, 2)
    w.layer("norm2", "LRN", "pool2", "norm2", lrn_param=_LRN)
    _conv(w, "conv3", "norm2", 384, 3, pad=1)
    _conv(w, "conv4", "conv3", 384, 3, pad=1, group=2)
    _conv(w, "conv5", "conv4", 256, 3, pad=1, group=2)
    w.pool("pool5", "conv5", "MAX", 3, 2)
    blob = "pool5"
    for i, kernel in ((6, 6), (7, 1)):
        _conv(w, f"fc{i}", blob, 4096, kernel)
        w.layer(f"drop{i}", "Dropout", f"fc{i}", f"fc{i}", dropout_param={"dropout_ratio": 0.5})
        blob = f"fc{i}"
    w.layer("score_fr", "Convolution", blob, "score_fr",
            param=[{"lr_mult": 1, "decay_mult": 1}, {"lr_mult": 2, "decay_mult": 0}],
            convolution_param={"num_output": VOC_CLASSES, "pad": [0], "kernel_size": [1]})
    w.layer("upscore", "Deconvolution", "score_fr", "upscore", param=[{"lr_mult": 0}], convolution_param={
        "num_output": VOC_CLASSES, "group": VOC_CLASSES, "bias_term": False, "kernel_size": [63], "stride": [32],
        "weight_filler": {"type": "bilinear"}})
    w.layer("score", "Crop", ["upscore", "data"], "score", crop_param={"axis": 2, "offset": [18]})
    w.layer("loss", "SoftmaxWithLoss", ["score", "label"], "loss", loss_param={"ignore_label": 255, "normalize": True},
            exclude=[{"stage": ["deploy"]}])
    w.layer("accuracy", "Accuracy", ["score", "label"], "accuracy", include=[{"stage": ["val"]}],
            accuracy_param={"ignore_label": 255})
    return w.text(f"FCN-AlexNet (semantic segmentation; DIGITS' examples/semantic-segmentation)\n{NOTE}")
