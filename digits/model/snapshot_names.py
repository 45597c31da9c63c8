"""Snapshot file names: snapshot_epoch_<N>.pt in a model folder, the one place that spells them.

Torch-free: the web process lists a job's snapshots by name (the files are the truth: written
atomically, while snapshot messages may not have reached job.json before a crash), the trainer
names what it writes and resumes from. A whole epoch is written without a decimal point; a
fractional one (snapshot_epoch_2.5.pt, from a DIGITS folder) is listed as a float.
"""
import os
import re

_NAME = re.compile(r"^snapshot_epoch_(\d+(?:\.\d+)?)\.pt$")


def snapshot_name(epoch):
    epoch = int(epoch) if float(epoch).is_integer() else epoch
    return f"snapshot_epoch_{epoch}.pt"


def parse_epoch(name):
    """The epoch a file name stands for (an int when whole), or None for any other file."""
    match = _NAME.match(name)
    if not match:
        return None
    value = float(match.group(1))
    return int(value) if value.is_integer() else value


def snapshot_files(folder):
    """[(epoch, file name)] of the snapshots in folder, oldest first; [] when it cannot be listed."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted((epoch, name) for epoch, name in ((parse_epoch(n), n) for n in names) if epoch is not None)
