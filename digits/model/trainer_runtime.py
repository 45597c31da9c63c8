"""Where the training runs: one process or one rank of torch.distributed.run; CPU or CUDA.

Rank 0 alone speaks the JSON-lines protocol and writes files; errors are reported by every rank
(other ranks prefix "rank N:") because a failure may happen on one rank only.
"""
import datetime
import os

import torch
import torch.distributed as dist

from digits.tools.common import emit
from digits.utils.cpu import usable_cores


def cpu_training_threads(local_world_size=1):
    """Intra-op threads per rank on CPU: env DIGITS_TRAIN_THREADS, else every core but one, shared by
    the ranks on this machine.

    Why one core is left: torch's threads wait for each other at every op, so a training that fills
    every core slows down far more than the CPU its neighbours take, and they stall behind it. On 2
    cores with 50 web clients (benchmarks/load.py), a 2-thread LeNet training slowed 50-80% and
    pages reached p99 110-130 ms; a 1-thread one slowed 11%, with p99 96 ms, and was only ~20%
    slower when alone. On a large machine one core less costs next to nothing.
    """
    override = os.environ.get("DIGITS_TRAIN_THREADS")
    if override:
        return max(1, int(override))
    return max(1, (usable_cores() - 1) // max(1, local_world_size))


class Runtime:
    def __init__(self):
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", str(self.world_size)))
        self.distributed = self.world_size > 1
        self.cuda = torch.cuda.is_available()
        if self.cuda:
            torch.cuda.set_device(self.local_rank % torch.cuda.device_count())
            self.device = torch.device("cuda", torch.cuda.current_device())
        else:
            self.device = torch.device("cpu")
            torch.set_num_threads(cpu_training_threads(self.local_world_size))
        self._group = False
        if self.distributed:
            backend = "nccl" if self.cuda else "gloo"
            kwargs = {"device_id": self.device} if self.cuda else {}
            dist.init_process_group(backend, timeout=datetime.timedelta(minutes=30), **kwargs)
            self._group = True

    @property
    def is_main(self):
        return self.rank == 0

    @property
    def amp(self):
        return self.cuda

    def describe(self):
        if self.cuda:
            name = torch.cuda.get_device_name(self.device)
            return f"{self.world_size} × {name}" if self.distributed else name
        return f"CPU ({self.world_size} processes)" if self.distributed else "CPU"

    def emit(self, type_, **fields):
        if self.is_main:
            emit(type_, **fields)

    def error(self, message, **fields):
        if not self.is_main:
            message = f"rank {self.rank}: {message}"
        emit("error", message=message, **fields)

    def all_sum(self, tensor):
        """Sums a tensor over ranks in place (no-op with one process)."""
        if self.distributed:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def gather_objects(self, value):
        """[value of rank 0, value of rank 1, ...] on every rank (picklable values; [value] alone)."""
        if not self.distributed:
            return [value]
        gathered = [None] * self.world_size
        dist.all_gather_object(gathered, value)
        return gathered

    def broadcast_int(self, value):
        if not self.distributed:
            return value
        tensor = torch.tensor([value if value is not None else -1], dtype=torch.int64, device=self.device)
        dist.broadcast(tensor, src=0)
        return int(tensor.item())

    def sync_buffers(self, module):
        """Rank 0's buffers (BatchNorm statistics) everywhere, so every rank evaluates the same model."""
        if self.distributed:
            for buffer in module.buffers():
                dist.broadcast(buffer, src=0)

    def barrier(self):
        if self.distributed:
            dist.barrier()

    def close(self):
        if self._group:
            self._group = False
            dist.destroy_process_group()
