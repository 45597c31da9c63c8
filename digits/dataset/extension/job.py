"""A dataset made by a data extension: its folder holds extension.json (which extension, the params its
plan() returned), the features and labels LMDBs the create_generic_db tool writes, the mean image and
dataset.json in the generic datasets' shape — so generic models train on it like on prebuilt LMDBs."""
import os

from digits.dataset.images.generic.job import FACT_KEYS
from digits.dataset.job import DatasetJob
from digits.job import register_job_kind, write_json_atomic
from digits.task import Task

EXTENSION_FILE = "extension.json"
# dataset.json facts some kinds add (object detection: docs/detection.md §1), in the job's JSON when present
EXTENSION_FACT_KEYS = ("label_kind", "max_boxes", "boxes", "geometry",   # object detection
                       "num_classes", "colormap", "pixels", "resize")     # segmentation (docs/segmentation.md)


@register_job_kind
class ExtensionDatasetJob(DatasetJob):
    kind = "dataset-generic-extension"
    title = "Generic dataset"
    dataset_type = "generic"      # what generic model forms look for
    template = "datasets/images/generic/show.html"

    @classmethod
    def create(cls, jobs_dir, name, owner, group, form_data, extension, params):
        """The job with its folder and extension.json; the caller adds it to the scheduler."""
        job = cls(jobs_dir, name, owner, group=group, form_data=form_data)
        job.extra.update(extension_id=extension.extension_id, extension_title=extension.title)
        os.makedirs(job.dir)
        write_json_atomic(job.path(EXTENSION_FILE), {"extension_id": extension.extension_id, "params": params})
        job.tasks.append(Task("create_db", "create_generic_db", (), {"create_db": 1}, title="Create DBs"))
        return job

    @property
    def new_url(self):   # the extension's own form (Clone opens it filled in)
        return f"/datasets/generic/new/{self.extra.get('extension_id')}"

    @property
    def extension_id(self):
        return self.extra.get("extension_id")

    def missing_plugin(self):
        from digits.extensions.data import missing
        return missing(self.extension_id)

    def has_mean(self):
        return True   # the tool always writes one

    def dataset_facts(self):
        facts = super().dataset_facts()
        info = self.info()
        facts.update({key: info.get(key) for key in FACT_KEYS}, extension_id=self.extension_id)
        facts.update({key: info[key] for key in EXTENSION_FACT_KEYS if key in info})
        return facts

    def page_context(self):
        return {"info": self.info(), "params": {}, "made_here": True,
                "extension_title": self.extra.get("extension_title")}
