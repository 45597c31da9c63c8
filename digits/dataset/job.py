"""DatasetJob: what every dataset kind shares — its folder is the dataset (see dataset.json)."""
import os

from digits.dataset import files
from digits.job import Job
from digits.status import Status

MAX_SKIPPED_IN_JSON = 200  # the full report stays in <split>_skipped.json


class DatasetJob(Job):
    kind = "dataset"
    category = "datasets"
    title = "Dataset"

    def dataset_dir(self):
        """The folder training reads (dataset.json, labels.txt, <split>_db, mean.binaryproto)."""
        return self.dir

    def info(self):
        """dataset.json as a dict, or {} while it is not written yet (or unreadable)."""
        try:
            return files.read_info(self.dir)
        except (FileNotFoundError, ValueError):
            return {}

    def labels(self):
        path = self.path(files.LABELS_FILE)
        try:
            return files.read_labels(path) if os.path.exists(path) else []
        except files.ListFileError:
            return []

    def is_ready(self):
        return self.status == Status.DONE

    def dataset_facts(self):
        """The dataset part of the job's JSON: dims, counts, classes, skipped files."""
        info = self.info()
        skipped = info.get("skipped", [])
        splits = info.get("splits", {})
        return {
            "image_dims": info.get("image_dims"),
            "image_type": {1: "GRAYSCALE", 3: "COLOR"}.get((info.get("image_dims") or [0, 0, 0])[2]),
            "resize_mode": info.get("resize_mode"), "encoding": info.get("encoding"),
            "backend": info.get("backend"), "num_classes": info.get("num_classes"),
            "labels": self.labels(), "mean_file": info.get("mean_file"),
            "splits": splits,
            "entries": {name: split.get("count", 0) for name, split in splits.items()},
            # notes on samples that were kept ("kept": true) are listed but left out of the count
            "skipped_count": sum(1 for e in skipped if not e.get("kept")), "skipped": skipped[:MAX_SKIPPED_IN_JSON],
            # training classes that skipped files left with fewer images than the minimum asked for
            "classes_below_minimum": splits.get("train", {}).get("classes_below_minimum", []),
        }

    def to_json(self):
        data = super().to_json()
        data.update(self.dataset_facts())
        return data
