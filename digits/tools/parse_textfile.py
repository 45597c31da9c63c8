"""List files of "path label" lines + a labels file → labels.txt + train.txt/val.txt/test.txt.

python -m digits.tools.parse_textfile --job-dir DIR --labels-file LABELS --train-list LIST
    [--train-folder BASE] [--val-list LIST [--val-folder BASE]] [--test-list LIST [--test-folder BASE]]
    [--shuffle] [--seed S] [--allowed-root DIR ...] [--extension ID]

The listing step of a data extension (list_samples, digits.extensions.data), image classification's
unless --extension names another: the step gets the other arguments. Classification's is
digits.dataset.images.classification.textfile_listing.
"""
from digits.dataset.images.classification.extension import EXTENSION_ID
from digits.extensions.data import run_listing
from digits.tools.common import run_main


def main(argv=None):
    return run_listing("parse_textfile", argv, EXTENSION_ID)


if __name__ == "__main__":
    run_main(main)
