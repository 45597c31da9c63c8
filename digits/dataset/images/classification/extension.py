"""Image classification as a data extension (digits.extensions.data): the built-in kind goes through the
same interface as any plugin, with its own pages (new_url), job kind and tools kept as DIGITS had them.

    plan          the form's sources checked, uploads saved (sources.plan): the job's params
    list_samples  parse_folder / parse_textfile (folder_listing, textfile_listing): labels.txt and the
                  <split>.txt lists in the job folder
    samples       a split's list: (path, class id, position in the list)
    read          the file decoded and resized as the image params say, and its class id
    label_names   labels.txt

The position seeds the padding noise of fill and half_crop, so a DB does not depend on the worker
count. params as the tools pass them: the listing tools {"parse_tool", "parse_args", "job_dir"} (plan's
own keys), create_db {"image": {height, width, channels, resize_mode, encoding}, "noise_seed", "job_dir"}.
"""
import os
from dataclasses import dataclass
from importlib import import_module

import numpy as np

from digits.dataset import files
from digits.dataset.images.classification.job import NEW_URL
from digits.extensions.data import DataExtension, SkipSample, get_extension
from digits.utils.image import NOISE_PADDED_MODES, LoadImageError, decode_image_bytes, resize_image

EXTENSION_ID = "image-classification"
LISTINGS = {"parse_folder": "digits.dataset.images.classification.folder_listing",
            "parse_textfile": "digits.dataset.images.classification.textfile_listing"}


@dataclass(frozen=True)
class ImageSpec:
    height: int
    width: int
    channels: int
    resize_mode: str
    encoding: str
    seed: int = 0  # noise of fill/half_crop is seeded per image: same DB whatever the worker count

    @property
    def shape(self):
        return (self.height, self.width) if self.channels == 1 else (self.height, self.width, 3)

    def params(self, job_dir):
        """The params create_db passes to the extension."""
        image = {"height": self.height, "width": self.width, "channels": self.channels,
                 "resize_mode": self.resize_mode, "encoding": self.encoding}
        return {"image": image, "noise_seed": self.seed, "job_dir": job_dir}

    @classmethod
    def of(cls, params):
        return cls(**params["image"], seed=params.get("noise_seed", 0))


def read_resized(path, pos, spec):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise LoadImageError("file not found") from None
    except IsADirectoryError:
        raise LoadImageError("is a folder, not a file") from None
    except OSError as exc:
        raise LoadImageError(f"cannot read file: {exc.strerror or exc}") from None
    image = decode_image_bytes(data)
    rng = None
    if spec.resize_mode in NOISE_PADDED_MODES:
        rng = np.random.default_rng([spec.seed, pos])
    return resize_image(image, spec.height, spec.width, spec.channels, spec.resize_mode, rng=rng)


class ImageClassificationExtension(DataExtension):
    extension_id = EXTENSION_ID
    title = "Image classification"
    group = "Images"
    label_kind = "class"
    new_url = NEW_URL
    new_model_url = "/models/images/classification/new"

    @property
    def form_class(self):   # imported when a page needs it: tools never load Flask
        from digits.dataset.images.classification.forms import ImageClassificationDatasetForm
        return ImageClassificationDatasetForm

    def plan(self, form, config):
        """config["staging_dir"]: the folder the job is made from, where uploads are saved."""
        from digits.dataset.images.classification.sources import plan
        return plan(form, config["staging_dir"], config)

    def splits(self, params):
        if params.get("job_dir"):   # after the listing step: the splits it filled
            return tuple(s for s in files.SPLITS if os.path.exists(os.path.join(params["job_dir"], f"{s}.txt")))
        return tuple(params["splits"])

    def list_samples(self, params):
        if params["parse_tool"] not in LISTINGS:
            raise ValueError(f"no listing step {params['parse_tool']!r} (use one of: {', '.join(LISTINGS)})")
        job_dir = params.get("job_dir")
        argv = [*map(str, params["parse_args"]), *(["--job-dir", job_dir] if job_dir else [])]
        return import_module(LISTINGS[params["parse_tool"]]).run(argv)

    def samples(self, params, split):
        items = files.read_list(os.path.join(params["job_dir"], f"{split}.txt"), len(self.label_names(params)),
                                display_name=f"{split}.txt")
        return [(path, label, pos) for pos, (path, label) in enumerate(items)]

    def read(self, params, sample):
        path, label, pos = sample
        try:
            return read_resized(path, pos, ImageSpec.of(params)), label
        except LoadImageError as exc:
            raise SkipSample(str(exc)) from None
        except (ValueError, OSError, MemoryError) as exc:  # PIL/numpy surprises on odd files
            raise SkipSample(f"{type(exc).__name__}: {exc}") from None

    def label_names(self, params):
        return files.read_labels(os.path.join(params["job_dir"], files.LABELS_FILE))


def classification_extension():
    """The registered extension (a subclass registered in its place included)."""
    return get_extension(EXTENSION_ID)


def build_list(items, db_dir, spec, num_classes, **options):
    """build_db for a plain [(path, class id)] list (what benchmarks and scripts hold), through the
    registered classification extension like create_db."""
    from digits.dataset.build import build_db
    samples = [(path, label, pos) for pos, (path, label) in enumerate(items)]
    return build_db(classification_extension(), spec.params(None), samples, db_dir, spec, num_classes, **options)
