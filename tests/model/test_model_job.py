"""The model job's view of its folder."""
import os

from digits.model.job import ImageClassificationModelJob


def test_snapshots_are_read_from_the_folder(tmp_path):
    """A server crash can lose the last snapshot messages; the files written before it still count."""
    job = ImageClassificationModelJob(str(tmp_path), "m", "alice")
    os.makedirs(job.dir)
    assert job.snapshot_epochs() == [] and job.snapshot_path() is None
    for name in ("snapshot_epoch_1.pt", "snapshot_epoch_4.pt", "snapshot_epoch_2.5.pt", "snapshot_epoch_x.pt",
                 ".snapshot_epoch_5.pt.tmp", "snapshot_epoch_6.pt.partial"):
        open(os.path.join(job.dir, name), "wb").close()
    assert job.snapshot_epochs() == [1, 2.5, 4]
    assert job.snapshot_path() == os.path.join(job.dir, "snapshot_epoch_4.pt")
    assert job.snapshot_path(2.5) == os.path.join(job.dir, "snapshot_epoch_2.5.pt")
