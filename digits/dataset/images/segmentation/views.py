"""The Explore page of a segmentation dataset: a page of a split's stored images, each with its label painted
with the dataset's colormap (a PNG made here, as digits.inference.masks paints a model's masks; ignored
pixels white), shown over the image with an opacity slider — 0: the feature database, 1: the labels one.

    GET /datasets/images/segmentation/explore[.json]?job_id=ID&db=train|val&page=0&size=24
"""
import numpy as np
from flask import Blueprint, jsonify, render_template

from digits.dataset.datum import datum_to_array, parse_datum
from digits.dataset.images.classification.job import data_uri
from digits.dataset.images.explore import requested_page
from digits.inference.masks import IGNORE, UNKNOWN_COLOUR, colormap_for, mask_png
from digits.utils.routing import wants_json

blueprint = Blueprint("datasets_images_segmentation", __name__)
EXPLORE_URL = "/datasets/images/segmentation/explore"
IGNORE_COLOUR = [255, 255, 255]


def _ids(value):
    return datum_to_array(parse_datum(value))


def painting_colormap(colormap, num_classes):
    """256 rows: the classes' colours, the unknown colour for ids no class has, white for ignore."""
    rows = colormap_for(colormap, num_classes) + [list(UNKNOWN_COLOUR)] * (256 - num_classes)
    rows[IGNORE] = IGNORE_COLOUR
    return rows


@blueprint.route(EXPLORE_URL)
@blueprint.route(EXPLORE_URL + ".json")
def explore():
    page = requested_page("mask", "a segmentation dataset", _ids)
    num_classes = page.info.get("num_classes") or len(page.labels)
    colormap = colormap_for(page.info.get("colormap"), num_classes)
    painting = painting_colormap(colormap, num_classes)
    images = [{"index": index, "src": data_uri(data), "label_src": mask_png(ids, painting),
               "classes": [int(c) for c in np.unique(ids) if c < num_classes]}
              for index, data, ids in page.records]
    if wants_json():
        return jsonify(page.reply(images=images, colormap=colormap))
    return render_template("datasets/images/segmentation/explore.html",
                           **page.context(images=images, colormap=colormap, url=EXPLORE_URL,
                                         kind="segmentation"))
