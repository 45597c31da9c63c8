"""COCO instances files (what most detection data comes as today): one JSON file naming the images of a
folder ("images": id, file_name), their objects ("annotations": image_id, category_id, bbox [x, y, w, h],
iscrowd) and the classes ("categories": id, name). A crowd annotation marks a region of many objects: a
dataset takes it as DontCare, as it does KITTI's DontCare.

    read_file(path) -> CocoFile(categories, images, objects, problems)
        categories: [name] in category id order; images: [(image id, file_name)] in file order;
        objects: {image id: [(name, (x1, y1, x2, y2), what)]} — name "dontcare" for crowds, None for an
        unknown category_id; what: how a report names the annotation. problems: what the file has that
        no image can take (annotations of unknown images, images without a file_name).
    to_coco(images, categories) -> dict   the instances JSON of [(file_name, width, height, objects)]
"""
import json
from collections import namedtuple

from digits.dataset.images.detection.kitti import DONTCARE
from digits.dataset.images.folders import listed

CocoFile = namedtuple("CocoFile", "categories images objects problems")
MAX_LISTED = 5


class CocoError(ValueError):
    user_error = True   # the message names the file and what is wrong with it


def read_file(path):
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CocoError(f"annotations file {path}: cannot read it as JSON ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list)
                                             for k in ("images", "annotations", "categories")):
        raise CocoError(f"annotations file {path}: not a COCO instances file (it needs lists \"images\", "
                        "\"annotations\" and \"categories\")")
    categories = {c["id"]: str(c["name"]) for c in data["categories"]
                  if isinstance(c, dict) and "id" in c and "name" in c}
    problems, images, objects = [], [], {}
    unnamed = [i for i, image in enumerate(data["images"]) if not _has(image, "id", "file_name")]
    if unnamed:
        problems.append(f"{len(unnamed)} image entr{'y' if len(unnamed) == 1 else 'ies'} without id or "
                        f"file_name (index {_listed(unnamed)}) left out")
    for image in data["images"]:
        if _has(image, "id", "file_name"):
            images.append((image["id"], str(image["file_name"])))
            objects[image["id"]] = []
    orphans = []
    for index, annotation in enumerate(data["annotations"]):
        if not isinstance(annotation, dict) or annotation.get("image_id") not in objects:
            orphans.append(annotation.get("id", f"#{index}") if isinstance(annotation, dict) else f"#{index}")
            continue
        objects[annotation["image_id"]].append(_object(annotation, index, categories))
    if orphans:
        problems.append(f"{len(orphans)} annotation(s) name an image_id that is not in \"images\" "
                        f"(annotation {_listed(orphans)}); left out")
    return CocoFile([categories[k] for k in sorted(categories)], images, objects, problems)


def _has(entry, *keys):
    return isinstance(entry, dict) and all(entry.get(k) not in (None, "") for k in keys)


def _listed(items):
    return listed(items, MAX_LISTED)


def _object(annotation, index, categories):
    what = f"annotation {annotation.get('id', f'#{index}')}"
    bbox = annotation.get("bbox")
    try:
        x, y, w, h = (float(v) for v in bbox)
    except (TypeError, ValueError):
        x = y = w = h = float("nan")   # reported (and left out) with the other bad boxes
        what += f" (bbox {bbox!r} is not [x, y, width, height])"
    if annotation.get("iscrowd"):
        name = DONTCARE
    else:
        name = categories.get(annotation.get("category_id"))
        if name is None:
            what += f" (category_id {annotation.get('category_id')!r} is not in \"categories\")"
    return name, (x, y, x + w, y + h), what


def to_coco(images, categories):
    """images: [(file_name, width, height, [(name, (x1, y1, x2, y2))])]; name "dontcare" becomes a crowd
    region of the first category."""
    ids = {name: i + 1 for i, name in enumerate(categories)}
    out = {"images": [], "annotations": [], "categories": [{"id": i, "name": n} for n, i in ids.items()]}
    for image_id, (file_name, width, height, objects) in enumerate(images, 1):
        out["images"].append({"id": image_id, "file_name": file_name, "width": width, "height": height})
        for name, (x1, y1, x2, y2) in objects:
            crowd = name.lower() == DONTCARE
            out["annotations"].append({
                "id": len(out["annotations"]) + 1, "image_id": image_id, "category_id": 1 if crowd else ids[name],
                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": int(crowd)})
    return out
