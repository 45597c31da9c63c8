"""Turning a dataset image into the network's input — the one function training, validation and
inference share, so the server and the downloaded archive reproduce the same numbers.

Input: a uint8 (or float 0..255) tensor C×H×W, RGB channel order, at the dataset's size (inference
resizes with the dataset's resize_mode first). Steps, in Caffe's DataTransformer order:

    1. subtract the mean — "image": the mean image at the crop's position; "pixel": the per-channel
       mean of the mean image; "none": nothing
    2. crop to crop_size × crop_size — random position in training, centered otherwise
       (offset = (size - crop) // 2, like Caffe)
    3. multiply by `scale`
    4. whitening (per-image standardization: (x - mean(x)) / max(std(x), 1/sqrt(numel))) when the
       training used the "whitening" augmentation — applied in every phase so inference matches

Default scale when the network does not give one (a prototxt data layer's transform_param.scale):
the framework's (registry: Framework.default_scale) — 1.0 for Caffe networks (Caffe's own default,
which their initialisations assume) and 1/255 for Python networks (inputs in [0, 1], or [-1, 1] with
a mean subtracted).

The file's format (names, modes, reading, writing) is digits.model.preprocess_spec's.
"""
import math
import os
import shutil

import torch

from digits.dataset.files import MEAN_FILE
from digits.frameworks.registry import get_framework
from digits.model import preprocess_spec as spec
from digits.model.preprocess_spec import MEAN_MODES, PREPROCESS_FILE, PreprocessError  # noqa: F401  (this API)


def default_scale(framework):
    return get_framework(framework).default_scale


class Preprocess:
    """Preprocessing parameters (as stored in preprocess.json) plus the loaded mean."""

    def __init__(self, channels, height, width, num_classes, resize_mode=spec.DEFAULT_RESIZE_MODE,
                 crop_size=None, mean=spec.NO_MEAN, mean_file=None, scale=1.0, whitening=False, mean_array=None,
                 geometry=None, postprocess=None):
        """geometry, postprocess: a detection model's (preprocess_spec): inference prepares its images with
        the dataset's geometry instead of resize_mode, and its output is N×D×6 detections."""
        self.channels, self.height, self.width = int(channels), int(height), int(width)
        self.num_classes = int(num_classes)
        self.resize_mode = resize_mode
        self.crop_size = int(crop_size) if crop_size else None
        self.mean = mean or spec.NO_MEAN
        self.mean_file = mean_file
        self.scale = float(scale)
        self.whitening = bool(whitening)
        if self.mean not in MEAN_MODES:
            raise PreprocessError(f"use_mean must be one of {', '.join(MEAN_MODES)}, got {self.mean!r}")
        if self.crop_size is not None and (self.crop_size < 1 or self.crop_size > min(self.height, self.width)):
            raise PreprocessError(f"crop_size {self.crop_size} does not fit the {self.width}×{self.height} images")
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise PreprocessError(f"scale must be a positive number, got {scale!r}")
        self.geometry = None if geometry is None else spec.check_geometry(geometry)
        self.postprocess = None if postprocess is None else spec.check_postprocess(postprocess)
        self._mean_tensor = None
        if self.mean != spec.NO_MEAN:
            if mean_array is None:
                raise PreprocessError(f"use_mean={self.mean!r} needs the dataset's mean file")
            self._set_mean(torch.as_tensor(mean_array, dtype=torch.float32))

    def _set_mean(self, mean):
        if mean.dim() != 3 or mean.shape[0] != self.channels:
            raise PreprocessError(f"mean file has shape {tuple(mean.shape)}, expected {self.channels} channels")
        if self.mean == "pixel":
            self._mean_tensor = mean.mean(dim=(1, 2), keepdim=True).contiguous()
        else:
            if tuple(mean.shape[1:]) != (self.height, self.width):
                raise PreprocessError(f"mean image is {mean.shape[2]}×{mean.shape[1]}, "
                                      f"the images are {self.width}×{self.height}")
            self._mean_tensor = mean.contiguous()

    @property
    def output_shape(self):
        """(C, H, W) the network receives."""
        if self.crop_size:
            return (self.channels, self.crop_size, self.crop_size)
        return (self.channels, self.height, self.width)

    def crop_offset(self, train=False, generator=None):
        """(top, left) of the crop; random in training (Caffe draws it per image)."""
        if not self.crop_size:
            return 0, 0
        spare_h, spare_w = self.height - self.crop_size, self.width - self.crop_size
        if train:
            top = int(torch.randint(spare_h + 1, (1,), generator=generator)) if spare_h else 0
            left = int(torch.randint(spare_w + 1, (1,), generator=generator)) if spare_w else 0
            return top, left
        return spare_h // 2, spare_w // 2

    def __call__(self, image, train=False, generator=None):
        """uint8/float tensor C×H×W (or N×C×H×W, one crop for all) → float32 network input."""
        if image.dim() not in (3, 4):
            raise PreprocessError(f"expected an image tensor C×H×W, got shape {tuple(image.shape)}")
        if tuple(image.shape[-3:]) != (self.channels, self.height, self.width):
            raise PreprocessError(f"image has shape {tuple(image.shape[-3:])}, the model expects "
                                  f"{(self.channels, self.height, self.width)} (C, H, W)")
        top, left = self.crop_offset(train, generator)
        size_h = self.crop_size or self.height
        size_w = self.crop_size or self.width
        x = image[..., top:top + size_h, left:left + size_w].to(torch.float32)
        if self._mean_tensor is not None:
            mean = self._mean_tensor
            if self.mean == "image":
                mean = mean[:, top:top + size_h, left:left + size_w]
            x = x - mean.to(x.device)
        if self.scale != 1.0:
            x = x * self.scale
        if self.whitening:
            x = standardize(x)
        return x.contiguous()

    def to_json(self):
        return {"channels": self.channels, "height": self.height, "width": self.width,
                "resize_mode": self.resize_mode, "crop_size": self.crop_size, "mean": self.mean,
                "mean_file": self.mean_file if self.mean != spec.NO_MEAN else None, "scale": self.scale,
                "whitening": self.whitening, "channel_order": spec.CHANNEL_ORDER, "num_classes": self.num_classes,
                **{key: value for key, value in (("geometry", self.geometry), ("postprocess", self.postprocess))
                   if value is not None}}


def standardize(x):
    """Per-image standardization over the last three dims (TensorFlow's per_image_standardization)."""
    dims = (-3, -2, -1)
    numel = x.shape[-3] * x.shape[-2] * x.shape[-1]
    mean = x.mean(dim=dims, keepdim=True)
    std = x.std(dim=dims, keepdim=True, unbiased=False).clamp_min(1.0 / math.sqrt(numel))
    return (x - mean) / std


def from_training(info, config, network, framework):
    """Preprocess for a training run: dataset info (read_dataset_info), train config, built network."""
    from digits.dataset.reader import load_mean

    height, width, channels = info["image_dims"]
    crop = config.get("crop_size") or getattr(network, "crop_size", None)
    mean_mode = config.get("use_mean") or spec.NO_MEAN
    mean_array = None
    mean_name = info.get("mean_file") or MEAN_FILE
    if mean_mode != spec.NO_MEAN:
        mean_path = os.path.join(info["dir"], mean_name)
        if not os.path.exists(mean_path):
            raise PreprocessError(f'use_mean={mean_mode!r} but the dataset has no mean file "{mean_name}"')
        mean_array = load_mean(mean_path)
    scale = getattr(network, "scale", None)
    augmentation = config.get("augmentation") or {}
    boxes = info.get("label_kind") == "boxes"
    return Preprocess(channels, height, width, info["num_classes"],
                      resize_mode=info.get("resize_mode", spec.DEFAULT_RESIZE_MODE), crop_size=crop, mean=mean_mode, mean_file=os.path.basename(mean_name),
                      scale=default_scale(framework) if scale is None else scale,
                      whitening=bool(augmentation.get("whitening")), mean_array=mean_array,
                      geometry=_dataset_geometry(info) if boxes else None,
                      postprocess=network_postprocess(network) if boxes else None)


def _dataset_geometry(info):
    # an older detection dataset without one stored its images as they came (all one size)
    return info.get("geometry") or {"pad": None, "resize": None, "channel_conversion": "none"}


# postprocess key -> the nn.Module attributes a detection network may set it with (first found wins)
POSTPROCESS_ATTRIBUTES = {"threshold": ("score_threshold", "threshold"), "nms_iou": ("nms_iou", "nms_threshold"),
                          "max_detections": ("max_detections", "detections_per_img")}


def network_postprocess(network):
    """A detection network's "postprocess": its module's own settings where it has them (e.g. a
    max_detections attribute), else the defaults (preprocess_spec.DEFAULT_POSTPROCESS)."""
    module = getattr(network, "module", network)
    found = {}
    for key, names in POSTPROCESS_ATTRIBUTES.items():
        value = next((getattr(module, n) for n in names if isinstance(getattr(module, n, None), (int, float))), None)
        if value is not None:
            found[key] = value
    return spec.check_postprocess(found, lambda field: f"the network's {field} settings")


def write_model_files(preprocess, model_dir, dataset_dir):
    """preprocess.json and (when a mean is used) a copy of the mean file in the model folder."""
    if preprocess.mean != spec.NO_MEAN:
        src = os.path.join(dataset_dir, preprocess.mean_file)
        dst = os.path.join(model_dir, preprocess.mean_file)
        tmp = dst + ".tmp"
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    spec.write(model_dir, preprocess.to_json())


def load(model_dir):
    """Preprocess from a model folder's preprocess.json (and mean copy) — for inference."""
    from digits.dataset.reader import load_mean

    params = spec.read(model_dir)
    mean_array = None
    if spec.uses_mean(params):
        mean_array = load_mean(os.path.join(model_dir, params["mean_file"]))
    return Preprocess(params["channels"], params["height"], params["width"], params["num_classes"],
                      resize_mode=params.get("resize_mode", spec.DEFAULT_RESIZE_MODE),
                      crop_size=params.get("crop_size"), mean=params.get("mean", spec.NO_MEAN),
                      mean_file=params.get("mean_file"),
                      scale=params.get("scale", 1.0), whitening=params.get("whitening", False),
                      mean_array=mean_array, geometry=params.get("geometry"), postprocess=params.get("postprocess"))
