"""Pretrained models: a network definition + weights + labels (+ preprocess.json and mean) in a job
folder, made from a trained model or uploaded, used to start new models (method "pretrained").

Folder: network.prototxt | network.py, weights.pt (state_dict or snapshot, weights_only-loadable),
labels.txt, preprocess.json, the mean file when the preprocessing uses one, info.json.
There is no task: the job is Done as soon as its files have been checked.
"""
import os

from digits.job import Job, register_job_kind
from digits.model.preprocess_spec import PREPROCESS_FILE
from digits.utils.atomic import read_json_or_empty

WEIGHTS_FILE = "weights.pt"
LABELS_FILE = "labels.txt"
INFO_FILE = "info.json"


def untrained_keys(weights_path):
    """The state_dict keys of a pretrained model's weights.pt that hold only their initialisation (the
    layers its .caffemodel had no weights for, info.json's "caffemodel" "untrained"); [] for any other
    weights file. The model itself runs with them (weights.pt is complete); a fine-tune must not transfer them."""
    folder, name = os.path.split(os.path.abspath(weights_path))
    if name != WEIGHTS_FILE:
        return []
    info = read_json_or_empty(os.path.join(folder, INFO_FILE))
    report = info.get("caffemodel") if isinstance(info, dict) else None
    keys = report.get("untrained") if isinstance(report, dict) else None
    return [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else []


@register_job_kind
class PretrainedModelJob(Job):
    kind = "pretrained-model"
    category = "pretrained_models"
    title = "Pretrained model"
    template = "pretrained_models/show.html"

    @property
    def framework(self):
        return self.extra.get("framework")

    @property
    def network_file(self):
        return self.extra.get("network_file")

    def network_text(self):
        try:
            with open(self.path(self.network_file), encoding="utf-8") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def weights_path(self):
        return self.path(WEIGHTS_FILE)

    def labels(self):
        from digits.dataset.files import ListFileError, read_labels
        try:
            return read_labels(self.path(LABELS_FILE))
        except ListFileError:
            return []

    def preprocess(self):
        return read_json_or_empty(self.path(PREPROCESS_FILE))

    def model_spec(self):
        """What the inference worker loads (see digits.inference.loader)."""
        return {"dir": self.dir, "framework": self.framework, "network_file": self.network_file,
                "weights": self.weights_path()}

    def snapshot_epochs(self):
        return []

    def page_context(self):
        return {"labels": self.labels(), "preprocess": self.preprocess(), "info": self.extra.get("info", {}),
                "files": sorted(n for n in os.listdir(self.dir) if not n.startswith((".", "job.json")))
                if os.path.isdir(self.dir) else []}

    def to_json(self):
        data = super().to_json()
        data.update(framework=self.framework, network_file=self.network_file, labels=self.labels(),
                    preprocess=self.preprocess(), info=self.extra.get("info", {}))
        return data
