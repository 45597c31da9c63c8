"""Folder of class subfolders → labels.txt + train.txt/val.txt/test.txt in the job folder.

python -m digits.tools.parse_folder --job-dir DIR --folder TRAIN_DIR [--pct-val 25] [--pct-test 0]
    [--min-per-class 2] [--max-per-class N] [--val-folder DIR] [--test-folder DIR] [--seed S]
    [--archive FILE --max-extract-bytes N] [--allowed-root DIR ...] [--workers N] [--extension ID]

The listing step of a data extension (list_samples, digits.extensions.data), image classification's
unless --extension names another: the step gets the other arguments. Classification's is
digits.dataset.images.classification.folder_listing (archives, header checks, splits).
"""
from digits.dataset.images.classification.extension import EXTENSION_ID
from digits.extensions.data import run_listing
from digits.tools.common import run_main


def main(argv=None):
    return run_listing("parse_folder", argv, EXTENSION_ID)


if __name__ == "__main__":
    run_main(main)
