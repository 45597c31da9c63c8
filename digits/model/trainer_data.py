"""Data loading for training: LmdbDataset + augmentation + preprocess, seeded per (run, epoch, record).

The train sampler yields (index, sample_seed) pairs; the dataset view seeds a private generator with
it for the random crop and augmentations. The order of records comes from DistributedSampler (also
with one process), seeded with (run seed + epoch). So data order and augmentation are a pure function
of (seed, epoch) — independent of worker processes and of the global RNGs — which is what makes a
resumed run identical to an uninterrupted one.
"""
import os

import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from torch.utils.data.distributed import DistributedSampler

from digits.utils.cpu import usable_cores

_MIX = 0x9E3779B97F4A7C15  # golden-ratio constant: spreads neighbouring seeds apart


def sample_seed(run_seed, epoch, index):
    value = (run_seed * 1_000_003 + epoch) & 0xFFFFFFFFFFFFFFFF
    value = (value * _MIX + index + 1) & 0xFFFFFFFFFFFFFFFF
    value ^= value >> 31
    return value & 0x7FFFFFFFFFFFFFFF


class ImageView(Dataset):
    """records of an LmdbDataset → (float input, label); keys are ints (eval) or (index, seed) (train).

    joint: the label is an image of its own (a segmentation mask, H×W) that the augmentations and the
    crop move with its image (TaskType.label_follows_image)."""

    def __init__(self, records, preprocess, augment=None, joint=False):
        self.records = records
        self.preprocess = preprocess
        self.augment = augment
        self.joint = joint

    def __len__(self):
        return len(self.records)

    def __getitem__(self, key):
        if not isinstance(key, tuple):
            image, label = self.records[key]
            return self.preprocess(image), self._cropped(label, self.preprocess.crop_offset())
        index, seed = key
        generator = torch.Generator().manual_seed(seed)
        image, label = self.records[index]
        if self.augment is not None and self.joint:
            image, label = self.augment.pair(image, label, generator)
        elif self.augment is not None:
            image = self.augment(image, generator)
        if not self.joint:
            return self.preprocess(image, train=True, generator=generator), label
        # preprocess draws the crop's position first from the generator: the same draw from a copy of
        # its state gives the label the image's crop
        state = generator.get_state()
        x = self.preprocess(image, train=True, generator=generator)
        return x, self._cropped(label, self.preprocess.crop_offset(True, torch.Generator().set_state(state)))

    def _cropped(self, label, offset):
        size = self.preprocess.crop_size
        if not self.joint or not size:
            return label
        top, left = offset
        return label[..., top:top + size, left:left + size]


class TensorRecords:
    """numpy (C×H×W uint8 image, label) records → torch tensors, as ImageView wants: label vectors and
    boxes as float32, masks (uint8 class ids) as they are."""

    def __init__(self, records):
        self.records = records

    def __len__(self):
        return len(self.records)

    def __getitem__(self, index):
        import numpy as np
        image, label = self.records.read(index)
        dtype = np.uint8 if label.dtype == np.uint8 and label.ndim == 2 else np.float32
        return (torch.from_numpy(np.require(image, requirements=["C", "W"])),
                torch.from_numpy(np.require(label, dtype=dtype, requirements=["C", "W"])))


class SeededTrainSampler(Sampler):
    """DistributedSampler order (shuffled per epoch, padded so every rank gets as many) + sample seeds."""

    def __init__(self, size, run_seed, shuffle, rank=0, world_size=1):
        self.inner = DistributedSampler(range(size), num_replicas=world_size, rank=rank, shuffle=shuffle,
                                        seed=run_seed, drop_last=False)
        self.run_seed = run_seed
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = epoch
        self.inner.set_epoch(epoch)

    def __len__(self):
        return len(self.inner)

    def __iter__(self):
        for index in self.inner:
            yield index, sample_seed(self.run_seed, self.epoch, index)


class ShardSampler(Sampler):
    """Every rank-th record, no padding: evaluation counts each record exactly once over all ranks."""

    def __init__(self, size, rank=0, world_size=1):
        self.indices = range(rank, size, world_size)

    def __len__(self):
        return len(self.indices)

    def __iter__(self):
        return iter(self.indices)


def default_workers(on_cuda, world_size):
    """DataLoader worker processes: env DIGITS_TRAIN_WORKERS, else a share of the CPU cores."""
    override = os.environ.get("DIGITS_TRAIN_WORKERS")
    if override:
        return max(0, int(override))
    share = max(1, usable_cores() // max(1, world_size))
    if on_cuda:
        return min(8, max(2, share - 1))
    # on CPU the workers compete with the training math for the same cores
    return 0 if share <= 4 else min(4, share // 4)


def make_loader(view, sampler, batch_size, workers, pin_memory, persistent=True, collate=None):
    """collate: the task type's collate_fn (TaskType.collate; None: torch's default)."""
    return DataLoader(view, batch_size=batch_size, sampler=sampler, num_workers=workers, collate_fn=collate,
                      pin_memory=pin_memory, drop_last=False, persistent_workers=persistent and workers > 0,
                      prefetch_factor=4 if workers > 0 else None,
                      # a private generator: the loader must not draw from the global torch RNG,
                      # whose state belongs to the model (dropout) and is restored on resume
                      generator=torch.Generator().manual_seed(0))
