"""The Caffe engine: NetParameter prototxt text, built into torch modules by caffe_net (see registry)."""
import functools

from digits.frameworks.registry import Framework


@functools.lru_cache(maxsize=None)
def _standard(name):
    # generated text (digits.networks.prototxt_writer), the same for every call: made once
    from digits.networks import caffe_classic, caffe_modern, fcn_alexnet
    makers = {"lenet": caffe_classic.lenet, "alexnet": caffe_classic.alexnet, "googlenet": caffe_classic.googlenet,
              "resnet18": lambda: caffe_modern.resnet(18), "resnet50": lambda: caffe_modern.resnet(50),
              "mobilenet_v2": caffe_modern.mobilenet_v2, "fcn_alexnet": fcn_alexnet.fcn_alexnet}
    return makers[name]() if name in makers else None


class Caffe(Framework):
    name = "caffe"
    aliases = ("prototxt",)
    title = "Caffe prototxt"
    network_file = "network.prototxt"
    network_suffixes = (".prototxt",)
    default_scale = 1.0   # Caffe's own default, which its networks' initialisations assume
    loss_required = True  # DIGITS' generic models are trained by their prototxt's loss layer

    def build(self, source_text, input_shape, num_classes, aux_losses=False):
        from digits.frameworks.caffe_net import build_caffe
        return build_caffe(source_text, input_shape, num_classes, aux_losses=aux_losses)

    def standard_network(self, name):
        return _standard(name)

    def graph(self, network):
        # the layers as written (fused, removed and unused ones too), wired by their blobs
        from digits.frameworks.graph import layer_graph
        return layer_graph(network)


ENGINE = Caffe()
