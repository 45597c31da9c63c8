"""What building a network gives back: the module plus what training and the UI need to know."""
from dataclasses import dataclass, field
from typing import Optional


@dataclass
class LayerInfo:
    """One layer as the user wrote it, for visualization and error reporting.

    status: "active" (a module runs it), "fused" (folded into the previous layer's module, e.g.
    Scale into BatchNorm), "data" (replaced by the input tensor), "removed" (loss/accuracy/trailing
    softmax: not part of the inference module) or "unused" (does not feed the output, e.g. GoogLeNet's
    auxiliary classifiers, unless built with aux_losses=True for training).
    """
    name: str
    type: str
    bottoms: list
    tops: list
    line: Optional[int] = None
    key: Optional[str] = None          # attribute under module.layers (state_dict prefix "layers.<key>.")
    status: str = "active"
    params: dict = field(default_factory=dict)          # parameter/buffer name -> shape
    output_shapes: dict = field(default_factory=dict)   # top blob -> shape without the batch dimension


@dataclass
class Network:
    """A built network. `module(x)` maps float N×C×H×W to logits N×num_classes."""
    module: object
    framework: str
    input_shape: tuple
    num_classes: Optional[int]
    scale: Optional[float] = None
    default_batch_size: Optional[int] = None
    crop_size: Optional[int] = None
    mirror: bool = False
    layers: list = field(default_factory=list)          # LayerInfo, in definition order
    param_specs: dict = field(default_factory=dict)     # parameter name -> {"lr_mult": .., "decay_mult": ..}
    loss: Optional[str] = None                          # the loss layer type the network asked for
    loss_spec: Optional[dict] = None                    # Caffe: its main loss layer (caffe_plan._loss_spec)
    loss_fn: Optional[object] = None                    # Python: the source's loss(outputs, labels), if any
    input_blob: Optional[str] = None
    output_blob: Optional[str] = None
    warnings: list = field(default_factory=list)
    aux: list = field(default_factory=list)             # [(logits blob, loss_weight)] built for training
    task_type: Optional[str] = None                     # the task type the source declares (TASK_TYPE), if any
