"""A split's samples, from a KITTI label folder or a COCO annotations file: JSON-able dicts that the dataset
tool hands back to the extension's read() one by one.

    {"path": image file, "split": split, "objects": [[name, x1, y1, x2, y2, what], ...], "skip": reason | None}

name is lower-cased, "dontcare" for DontCare and crowd regions, None for an unknown COCO category; what
is how the report names the object. Problems no image can take (label files without an image,
annotations of images the file does not list) come as a sample named by the label folder or the
annotations file, with "skip", so that the dataset's report lists them too.
"""
import functools
import os

from digits.dataset.images.detection import coco, kitti
from digits.dataset.images.folders import SourceError, image_files as _image_files, listed, stem as _stem
from digits.utils.paths import is_inside


def scan(source, split):
    """source: params[split] as forms.plan made it ({"images", "labels" | "annotations"})."""
    if source.get("annotations"):
        return _coco_samples(source["images"], source["annotations"], split)
    return _kitti_samples(source["images"], source["labels"], split)


def categories(source):
    """The COCO file's category names (in id order), or None for a KITTI label folder."""
    return _coco_file(source["annotations"]).categories if source.get("annotations") else None


def _sample(path, split, objects=(), skip=None):
    return {"path": path, "split": split, "objects": list(objects), "skip": skip}


def _kitti_samples(image_folder, label_folder, split):
    try:
        labels = {_stem(e.name): e.path for e in os.scandir(label_folder)
                  if e.name.lower().endswith(kitti.LABEL_EXTENSION) and e.is_file()}
    except OSError as exc:
        raise SourceError(f"label folder {label_folder}: {exc.strerror or exc}") from None
    samples, seen = [], {}
    for path in _image_files(image_folder):
        stem = _stem(path)
        if stem in seen:
            samples.append(_sample(path, split, skip=f"another image has the same name, {seen[stem]}: its "
                                                     f"label file {stem}{kitti.LABEL_EXTENSION} is that one's"))
            continue
        seen[stem] = path
        label = labels.get(stem)
        if label is None:
            samples.append(_sample(path, split, skip=f"no label file {stem}{kitti.LABEL_EXTENSION} in {label_folder}"))
            continue
        objects, problems = kitti.read_file(label)
        name = os.path.basename(label)
        skip = f"label file {label}: {'; '.join(problems)}; the image is left out" if problems else None
        samples.append(_sample(path, split, ([o.name, *o.box, f"{name} line {o.line} ({o.name})"] for o in objects),
                               skip))
    orphans = sorted(os.path.basename(p) for stem, p in labels.items() if stem not in seen)
    if orphans:
        samples.append(_sample(label_folder, split, skip=f"{len(orphans)} label file(s) without an image in "
                                                         f"{image_folder}: {listed(orphans)}"))
    return samples


@functools.lru_cache(maxsize=2)
def _coco_file(path):
    return coco.read_file(path)


def _coco_samples(image_folder, annotations, split):
    data = _coco_file(annotations)
    root, name = os.path.realpath(image_folder), os.path.basename(annotations)
    samples = []
    for image_id, file_name in data.images:
        path = os.path.realpath(os.path.join(root, file_name))
        skip = None
        if not is_inside(path, root):
            skip = f"{name} names image {file_name!r} (id {image_id}), which is outside the image folder"
        elif not os.path.isfile(path):
            skip = f"{name} names image {file_name!r} (id {image_id}), which is not in {image_folder}"
        objects = ([n, *box, f"{what} ({n or 'unknown category'})"] for n, box, what in data.objects[image_id])
        samples.append(_sample(path, split, objects, skip))
    samples += [_sample(annotations, split, skip=problem) for problem in data.problems]
    return samples
