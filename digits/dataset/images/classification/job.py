"""The image classification dataset job: parse the source, then one create_db task per split."""
import base64

from digits.dataset.job import DatasetJob
from digits.job import register_job_kind
from digits.task import Task

NEW_URL = "/datasets/images/classification/new"
SAMPLES_ON_PAGE = 8


def _split_task_name(split):
    return f"create_db_{split}"


@register_job_kind
class ImageClassificationDatasetJob(DatasetJob):
    kind = "dataset-image-classification"
    title = "Image classification dataset"
    dataset_type = "classification"      # what model forms look for
    template = "datasets/images/classification/show.html"
    new_url = NEW_URL

    @classmethod
    def create(cls, jobs_dir, name, owner, group, form_data, params, job_id=None):
        """params: {"parse_tool", "parse_args", "splits", "image": {height, width, channels,
        resize_mode, encoding}} as the extension's plan() worked them out: the listing step (its tool
        and arguments), then one create_db per split."""
        from digits.dataset.images.classification.extension import classification_extension
        job = cls(jobs_dir, name, owner, group=group, form_data=form_data, job_id=job_id)
        job.extra["params"] = params
        parse_title = "Parse folder" if params["parse_tool"] == "parse_folder" else "Parse list files"
        job.tasks.append(Task("parse", params["parse_tool"], params["parse_args"], {"parse_folder": 1},
                              title=parse_title))
        image = params["image"]
        for split in classification_extension().splits(params):
            args = ["--split", split, "--height", image["height"], "--width", image["width"],
                    "--channels", image["channels"], "--resize-mode", image["resize_mode"],
                    "--encoding", image["encoding"]]
            if split == "train":
                args += ["--min-per-class", params.get("min_per_class", 1)]
            job.tasks.append(Task(_split_task_name(split), "create_db", args, {"create_db": 1},
                                  title=f"Create DB ({split})"))
        return job

    def on_task_done(self, task):
        if task.name != "parse":
            return
        # A split the parse did not fill (e.g. every class too small for a test share) gets no DB.
        from digits.dataset.images.classification.extension import classification_extension
        present = set(classification_extension().splits({"job_dir": self.dir}))
        dropped = [t for t in self.tasks if t.tool == "create_db" and t.args[1] not in present]
        for t in dropped:
            task.warnings.append(f"no images for the {t.args[1]} split; its database is not created")
        self.tasks = [t for t in self.tasks if t not in dropped]

    # ----- page
    def page_context(self):
        info = self.info()
        samples = []
        if "train" in info.get("splits", {}):
            samples = self.sample_images("train", SAMPLES_ON_PAGE)
        labels = self.labels()
        return {"info": info, "facts": self.dataset_facts(), "labels": labels, "samples": samples,
                "task_times": {t.name: t.status_history.runtime() for t in self.tasks}}

    def sample_images(self, split, count, offset=0, label=None):
        """[(key, label, data URI)] from a split's DB; [] if it cannot be read."""
        from digits.dataset.reader import read_records
        try:
            _, page = read_records(self.path(f"{split}_db"), offset, count, label)
        except Exception:  # noqa: BLE001 - a damaged DB must not break the job page (lmdb.Error too)
            return []
        return [(key, lab, data_uri(data)) for key, lab, data in page]


def data_uri(image_bytes):
    mime = "image/jpeg" if image_bytes[:2] == b"\xff\xd8" else "image/png"
    return f"data:{mime};base64,{base64.b64encode(image_bytes).decode()}"
