"""What the Explore pages of the image dataset extensions share (detection's boxes, segmentation's masks): the
request naming a page of one split, and that page of its paired image and label records.

    requested_page(label_kind, what, parse_label) -> ExplorePage
        from the request's job_id, db (train|val), page and size; aborts 400/404 with the reason (no job_id,
        not a dataset of that label kind — `what` names the kind in the message —, no such split, databases
        gone from disk). parse_label(label record bytes) -> the label as the page shows it.
    read_page(job_dir, db, offset, limit, parse_label) -> (total, [(index, image bytes, label)])
"""
import os
from dataclasses import dataclass

from flask import abort, current_app, request

from digits.dataset.datum import parse_datum
from digits.utils.routing import get_job_or_404

SIZES = (12, 24, 48, 96)


def _key(index):
    return b"%08d" % index


def read_page(job_dir, db, offset, limit, parse_label):
    from digits.utils.lmdb_io import readonly_env
    with readonly_env(os.path.join(job_dir, f"{db}_db")) as images, \
            readonly_env(os.path.join(job_dir, f"{db}_labels_db")) as labels:
        total = images.stat()["entries"]
        page = []
        with images.begin() as image_txn, labels.begin() as label_txn:
            for index in range(offset, min(total, offset + limit)):
                image, label = image_txn.get(_key(index)), label_txn.get(_key(index))
                if image is not None and label is not None:
                    page.append((index, bytes(parse_datum(image).data), parse_label(bytes(label))))
    return total, page


@dataclass
class ExplorePage:
    job: object
    info: dict
    db: str
    splits: list
    page: int
    size: int
    total: int
    records: list
    labels: list

    @property
    def pages(self):
        return max(1, -(-self.total // self.size))

    def reply(self, **extra):
        """The page's JSON answer."""
        return {"job_id": self.job.id, "db": self.db, "page": self.page, "size": self.size, "total": self.total,
                "pages": self.pages, "labels": self.labels, **extra}

    def context(self, **extra):
        """The page template's variables."""
        height, width = (self.info.get("image_dims") or [1, 1])[:2]
        return {"job": self.job, "db": self.db, "page": self.page, "size": self.size, "total": self.total,
                "pages": self.pages, "labels": self.labels, "splits": self.splits, "sizes": SIZES,
                "width": width, "height": height, **extra}


def requested_page(label_kind, what, parse_label):
    job_id = request.args.get("job_id")
    if not job_id:
        abort(400, description="job_id is required")
    job = get_job_or_404(job_id, "datasets")
    info = job.info()
    if info.get("label_kind") != label_kind:
        abort(404, description=f"{job_id} is not {what} (or is not built yet)")
    splits = list(info.get("splits", {}))
    db = request.args.get("db", "train")
    if db not in splits:
        abort(404, description=f"dataset {job.name!r} has no {db} database (it has {', '.join(splits)})")
    page = max(0, request.args.get("page", 0, type=int))
    size = min(max(1, request.args.get("size", SIZES[1], type=int)), max(SIZES))
    import lmdb
    try:
        total, records = read_page(job.dir, db, page * size, size, parse_label)
    except (OSError, ValueError, lmdb.Error) as exc:   # deleted or damaged on disk after the job finished
        current_app.logger.warning("explore %s/%s: %s", job.id, db, exc)
        abort(404, description=f"the {db} databases of dataset {job.name!r} are missing or unreadable on the "
                               "server; create the dataset again (Clone) to rebuild them")
    return ExplorePage(job, info, db, splits, page, size, total, records, job.labels())
