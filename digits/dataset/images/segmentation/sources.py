"""A segmentation dataset's samples: each feature image paired with the label image of the same name (file
name without extension, DIGITS' rule: the extensions may differ), JSON-able for the dataset tool:

    {"path": feature image, "label": label image | None, "split": split, "skip": reason | None}

Both folders are searched in subfolders too. A feature image without a label image, or one whose name is
taken twice, comes with "skip"; label images without a feature image come as one sample named by the
label folder, with "skip", so that the dataset's report lists them.

    scan(params, split) -> [sample]
        with validation folders (params["val"]), each split is its own folders' pairs; without, the
        training folders' feature images are shuffled with params["seed"] and the first
        floor(n · folder_pct_val / 100) are the validation split (DIGITS' split), the same on every run.
"""
import functools
import json

import numpy as np

from digits.dataset.images.folders import image_files, listed, stem


def _sample(path, split, label=None, skip=None):
    return {"path": path, "label": label, "split": split, "skip": skip}


def pairs(feature_folder, label_folder, split):
    """(a sample per feature image, [the sample listing the label images without one] or [])."""
    labels = {}
    for path in image_files(label_folder):
        labels.setdefault(stem(path), []).append(path)
    samples, seen = [], {}
    for path in image_files(feature_folder):
        name = stem(path)
        found = labels.get(name, [])
        if name in seen:
            samples.append(_sample(path, split, skip=f"another feature image has the same name, {seen[name]}: "
                                                     "its label image is that one's"))
            continue
        seen[name] = path
        if not found:
            samples.append(_sample(path, split, skip=f"no label image named {name}.* in {label_folder}"))
        elif len(found) > 1:
            samples.append(_sample(path, split, skip=f"{len(found)} label images are named {name}: "
                                                     f"{listed(found)}; keep one"))
        else:
            samples.append(_sample(path, split, label=found[0]))
    orphans = sorted(p for name, paths in labels.items() if name not in seen for p in paths)
    if not orphans:
        return samples, []
    return samples, [_sample(label_folder, split, skip=f"{len(orphans)} label image(s) without a feature image in "
                                                       f"{feature_folder}: {listed(orphans)}")]


def validation_count(count, pct):
    return count * int(pct) // 100


@functools.lru_cache(maxsize=4)
def _split(params_json):
    params = json.loads(params_json)
    images, leftovers = pairs(params["train"]["features"], params["train"]["labels"], "train")
    order = np.random.default_rng(params["seed"]).permutation(len(images))
    val = validation_count(len(images), params["folder_pct_val"])
    return {"val": [dict(images[i], split="val") for i in order[:val]],
            "train": [images[i] for i in order[val:]] + leftovers}


def scan(params, split):
    if params.get("val"):
        return sum(pairs(params[split]["features"], params[split]["labels"], split), [])
    return _split(json.dumps(params, sort_keys=True))[split]
