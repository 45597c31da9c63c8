"""Training-only data augmentation (DIGITS' options), on C×H×W tensors with an explicit generator.

Every random draw comes from the torch.Generator passed in, which the data loader seeds from
(run seed, epoch, record index): augmentations are then reproducible and independent of worker
processes, so a resumed run sees the same images as an uninterrupted one.

Options (train_config "augmentation"):
    flip      none | fliplr | flipud | fliplrud     each flip with probability 1/2
    quad_rot  none | rot90 | rot180 | rotall        0/90/270, 0/180 or 0/90/180/270 degrees
              (90-degree turns need square images; otherwise only 180 is used)
    rot       R: rotate by an angle uniform in [-R, R] degrees
    scale     S: zoom by a factor 1 + N(0, S) (clamped to [0.5, 2]), keeping the image size
    noise     N: add Gaussian noise with stddev N × 255
    hsv_use   with hsv_h / hsv_s / hsv_v: hue shift N(0, hsv_h) of the hue circle, saturation and
              value factors 1 + N(0, hsv_s) and 1 + N(0, hsv_v)  (color images only)
    contrast  C: contrast factor uniform in [max(0, 1 - C), 1 + C]
    whitening per-image standardization — not random, so it lives in preprocess (every phase)

pair(image, label, generator) moves a label image (a segmentation mask, H×W) with its image: the same
flips, turns, rotation and zoom, the label by nearest neighbour, the pixels no source pixel covers set
to IGNORE_LABEL (no loss, no metric); noise, colour and contrast change the image only.
"""
import torch

FLIPS = ("none", "fliplr", "flipud", "fliplrud")
QUAD_ROTS = ("none", "rot90", "rot180", "rotall")
# counter-clockwise quarter turns each option draws from, equally likely (DIGITS' meaning)
QUARTER_TURNS = {"rot90": (0, 1, 3), "rot180": (0, 2), "rotall": (0, 1, 2, 3)}
IGNORE_LABEL = 255


class AugmentError(ValueError):
    """An augmentation option that cannot be used; the message names the field."""


def _amount(options, name, upper=None):
    value = options.get(name) or 0
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise AugmentError(f"augmentation.{name} must be a number, got {value!r}") from None
    if value < 0 or (upper is not None and value > upper):
        raise AugmentError(f"augmentation.{name} must be between 0 and {upper}, got {value}")
    return value


class Augment:
    def __init__(self, options=None):
        options = dict(options or {})
        self.flip = options.get("flip") or "none"
        self.quad_rot = options.get("quad_rot") or "none"
        if self.flip not in FLIPS:
            raise AugmentError(f"augmentation.flip must be one of {', '.join(FLIPS)}, got {self.flip!r}")
        if self.quad_rot not in QUAD_ROTS:
            raise AugmentError(f"augmentation.quad_rot must be one of {', '.join(QUAD_ROTS)}, got {self.quad_rot!r}")
        self.rot = _amount(options, "rot", 180)
        self.scale = _amount(options, "scale", 1)
        self.noise = _amount(options, "noise", 1)
        self.contrast = _amount(options, "contrast", 5)
        self.hsv = bool(options.get("hsv_use"))
        self.hsv_h = _amount(options, "hsv_h", 0.5) if self.hsv else 0.0
        self.hsv_s = _amount(options, "hsv_s", 1) if self.hsv else 0.0
        self.hsv_v = _amount(options, "hsv_v", 1) if self.hsv else 0.0

    @property
    def active(self):
        return bool(self.flip != "none" or self.quad_rot != "none" or self.rot or self.scale or self.noise
                    or self.contrast or self.hsv_h or self.hsv_s or self.hsv_v)

    def __call__(self, image, generator=None):
        """uint8 C×H×W → augmented uint8 C×H×W (float32 0..255 when noise is added)."""
        return self.pair(image, None, generator)[0]

    def pair(self, image, label, generator=None):
        """(augmented image, its label moved alike) for a uint8 C×H×W image and H×W label (or None)."""
        if not self.active:
            return image, label
        g = generator
        moved = [image] if label is None else [image, label[None]]

        def uniform(low, high):
            return low + (high - low) * float(torch.rand((), generator=g))

        def normal(std):
            return std * float(torch.randn((), generator=g))

        def coin():
            return bool(torch.rand((), generator=g) < 0.5)

        if self.flip in ("fliplr", "fliplrud") and coin():
            moved = [m.flip(-1) for m in moved]
        if self.flip in ("flipud", "fliplrud") and coin():
            moved = [m.flip(-2) for m in moved]
        if self.quad_rot != "none":
            k = self._quarter_turns(image, uniform)
            moved = [torch.rot90(m, k, dims=(-2, -1)) for m in moved] if k else moved
        angle = uniform(-self.rot, self.rot) if self.rot else 0.0
        zoom = min(2.0, max(0.5, 1.0 + normal(self.scale))) if self.scale else 1.0
        image, label = moved[0], (moved[1][0] if len(moved) > 1 else None)
        if not (angle or zoom != 1.0 or self.hsv_h or self.hsv_s or self.hsv_v or self.contrast):
            return self._add_noise(image, g), label
        # torchvision costs ~2 s to import: only when an option needs it
        from torchvision.transforms.v2 import InterpolationMode
        from torchvision.transforms.v2 import functional as F

        if angle or zoom != 1.0:
            turn = dict(angle=angle, translate=[0, 0], scale=zoom, shear=[0.0, 0.0])
            image = F.affine(image, **turn, interpolation=InterpolationMode.BILINEAR)
            if label is not None:
                label = F.affine(label[None], **turn, interpolation=InterpolationMode.NEAREST,
                                 fill=[IGNORE_LABEL])[0]
        if image.shape[-3] == 3 and (self.hsv_h or self.hsv_s or self.hsv_v):
            if self.hsv_h:
                image = F.adjust_hue(image, max(-0.5, min(0.5, normal(self.hsv_h))))
            if self.hsv_s:
                image = F.adjust_saturation(image, max(0.0, 1.0 + normal(self.hsv_s)))
            if self.hsv_v:
                image = F.adjust_brightness(image, max(0.0, 1.0 + normal(self.hsv_v)))
        if self.contrast:
            image = F.adjust_contrast(image, uniform(max(0.0, 1.0 - self.contrast), 1.0 + self.contrast))
        return self._add_noise(image, g), label

    def _add_noise(self, image, generator):
        if not self.noise:
            return image
        noise = torch.randn(image.shape, generator=generator) * (self.noise * 255.0)
        return (image.to(torch.float32) + noise).clamp_(0.0, 255.0)

    def _quarter_turns(self, image, uniform):
        square = image.shape[-1] == image.shape[-2]
        turns = QUARTER_TURNS["rot180" if not square else self.quad_rot]
        return turns[min(int(uniform(0, len(turns))), len(turns) - 1)]
