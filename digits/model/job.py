"""Model jobs: a network + solver settings trained on a dataset by `digits.tools.train`."""
import os

from digits.frameworks.registry import get_framework
from digits.job import Job, discard_on_error, register_job_kind
from digits.model import trainer_config
from digits.model.snapshot_names import snapshot_files, snapshot_name
from digits.task import Task
from digits.utils.atomic import read_json_or_empty


class ModelJob(Job):
    """A network trained on a dataset: what every kind of model shares (snapshots, network file,
    train config). Kinds differ in their task type, forms and pages."""
    category = "models"
    task_type = "classification"
    template = "models/images/classification/show.html"

    @classmethod
    def create(cls, jobs_dir, name, owner, group, form_data, dataset_job, framework, network_text, config,
               gpu_request, weights_from=None):
        """Writes the job folder (network + train_config.json) and its one training task."""
        job = cls(jobs_dir, name, owner, group, form_data=form_data)
        os.makedirs(job.dir)
        engine = get_framework(framework, aliases=False)
        network_file = engine.network_file
        with discard_on_error([job]):   # a full disk must not leave a folder holding only the network
            with open(job.path(network_file), "w") as f:
                f.write(network_text)
            config = dict(config, dataset_dir=dataset_job.dir, network={"framework": framework, "file": network_file})
            trainer_config.write(job.dir, config)
        job.extra.update(dataset_id=dataset_job.id, framework=framework, network_file=network_file,
                         weights_from=weights_from, extension_id=getattr(dataset_job, "extension_id", None))
        job.tasks.append(Task("train", engine.train_tool, resources=gpu_request, title="Train model"))
        return job

    def dependency_ids(self):
        # The model or pretrained model its weights come from must outlive it, like its dataset.
        deps = [self.extra.get("dataset_id"), self.extra.get("weights_from") or self.extra.get("previous_model_id")]
        return [d for d in deps if d]

    @property
    def train_task(self):
        return self.task("train")

    def train_config(self):
        return read_json_or_empty(self.path(trainer_config.CONFIG_FILE))

    def network_text(self):
        try:
            with open(self.path(self.extra.get("network_file", "network.prototxt"))) as f:
                return f.read()
        except OSError:
            return ""

    def snapshot_epochs(self):
        """Epochs with a snapshot file, read from the folder (see digits.model.snapshot_names)."""
        return [epoch for epoch, _name in snapshot_files(self.dir)]

    def snapshot_path(self, epoch=None):
        """The file of one snapshot (newest by default); None if there is none."""
        epochs = self.snapshot_epochs()
        if not epochs:
            return None
        if epoch is None:
            epoch = epochs[-1]
        if epoch not in epochs:
            return None
        return self.path(snapshot_name(epoch))

    def best_snapshot(self):
        """{"epoch", "metric", "value"} of the snapshot training marked best (digits.model.early_stopping)
        while its file is there; None for a model trained without one (it goes on using the newest)."""
        task = self.train_task
        results = task.results if task else {}
        epoch = results.get("best_epoch")
        if epoch is None or epoch not in self.snapshot_epochs():
            return None
        return {"epoch": epoch, "metric": results.get("best_metric"), "value": results.get("best_value")}

    def default_epoch(self):
        """The snapshot inference and downloads use when none is asked for: the best, else the newest."""
        best = self.best_snapshot()
        epochs = self.snapshot_epochs()
        return best["epoch"] if best else (epochs[-1] if epochs else None)

    def labels(self):
        from digits.dataset.files import read_labels
        dataset_dir = self.train_config().get("dataset_dir")
        try:
            return read_labels(os.path.join(dataset_dir, "labels.txt"))
        except (OSError, ValueError, TypeError):
            return []

    def page_context(self):
        from digits.utils.routing import scheduler
        task = self.train_task
        return {"dataset": scheduler().get_job(self.extra.get("dataset_id")), "config": self.train_config(),
                "metrics": task.metrics if task else {}, "snapshots": self.snapshot_epochs(),
                "results": task.results if task else {}, "best": self.best_snapshot()}

    def to_json(self):
        data = super().to_json()
        task = self.train_task
        data.update(snapshots=self.snapshot_epochs(), dataset_id=self.extra.get("dataset_id"),
                    framework=self.extra.get("framework"), task_type=self.task_type, train_config=self.train_config(),
                    metrics=task.metrics if task else {}, results=task.results if task else {})
        best, results = self.best_snapshot() or {}, task.results if task else {}
        data.update(best_epoch=best.get("epoch"), best_metric=best.get("metric"), best_value=best.get("value"),
                    stopped_early=bool(results.get("stopped_early")), stop_reason=results.get("stop_reason"))
        return data


@register_job_kind
class ImageClassificationModelJob(ModelJob):
    kind = "model-images-classification"
    title = "Image classification model"
    new_url = "/models/images/classification/new"


@register_job_kind
class GenericImageModelJob(ModelJob):
    """DIGITS' "generic" model: a network trained on a generic dataset's label vectors; what the output
    means is its task type (regression, multilabel), kept in train_config.json."""
    kind = "model-images-generic"
    title = "Generic image model"
    new_url = "/models/images/generic/new"
    template = "models/images/generic/show.html"

    @property
    def task_type(self):
        return self.train_config().get("task_type") or "regression"

    def missing_plugin(self):
        # the data extension of its dataset (made by a plugin, as the dataset's page says too)
        from digits.extensions.data import missing
        return missing(self.extra.get("extension_id"))
