"""The generic image dataset job: prebuilt LMDBs referenced in place, scanned by one analyze task.

The databases stay where the user keeps them (deleting the job never touches them); the job
folder holds job.json, a copy of the mean file, mean.jpg and dataset.json.
"""
from digits.dataset.job import DatasetJob
from digits.job import register_job_kind
from digits.task import Task

NEW_URL = "/datasets/images/generic/new"
MEAN_FILE = "mean.binaryproto"
FACT_KEYS = ("kind", "encoded", "label_dims", "label_dtype")   # dataset.json's beyond the base facts


@register_job_kind
class GenericImageDatasetJob(DatasetJob):
    kind = "dataset-images-generic"
    title = "Generic image dataset (prebuilt LMDBs)"
    dataset_type = "generic"      # what model forms look for
    template = "datasets/images/generic/show.html"
    new_url = NEW_URL

    @classmethod
    def create(cls, jobs_dir, name, owner, group, form_data, params, job_id=None):
        """params: {"paths": {split: [images_db, labels_db]}, "mean_file": bool, "checked": facts
        of the submit check} as the form worked them out."""
        job = cls(jobs_dir, name, owner, group=group, form_data=form_data, job_id=job_id)
        job.extra["params"] = params
        args = []
        for split, (images, labels) in params["paths"].items():
            args += [f"--{split}-images", images, f"--{split}-labels", labels]
        if params["mean_file"]:
            args += ["--mean-file", MEAN_FILE]
        job.tasks.append(Task("analyze", "analyze_generic", args, {"analyze_db": 1}, title="Analyze DBs"))
        return job

    def has_mean(self):
        return bool(self.extra.get("params", {}).get("mean_file"))

    def dataset_facts(self):
        facts = super().dataset_facts()
        info = self.info()
        facts.update({key: info.get(key) for key in FACT_KEYS})
        return facts

    def page_context(self):
        return {"info": self.info(), "params": self.extra.get("params", {})}
