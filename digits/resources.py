"""Resource pools: how many tasks of each sort may run at once, and which GPU each one gets."""
import threading

from digits import device

# Dataset work is CPU bound; create_db already uses every core itself, so one at a time.
CPU_POOLS = {"parse_folder": 1, "create_db": 1, "analyze_db": 1, "inference": 2}


class ResourcePools:
    def __init__(self, config, gpus=None):
        if gpus is None:
            gpus = device.visible_gpu_indices(config.get("gpus"))
        self.gpus = list(gpus)
        self.capacity = dict(CPU_POOLS)
        self.capacity["train_cpu"] = int(config.get("cpu_train_slots", 1))
        self.capacity.update(config.get("pools", {}))
        self.used = {name: 0 for name in self.capacity}
        self.free_gpus = list(self.gpus)
        self._lock = threading.Lock()

    def acquire(self, request):
        """Takes what `request` asks for, all or nothing; returns the grant or None.

        A request names pools ({"create_db": 1}), or asks for training slots with "gpu": N
        (N GPUs, or one CPU training slot on a machine without GPUs) or "gpu_ids": [..].
        """
        with self._lock:
            grant = {"pools": {}, "gpus": []}
            wanted_ids = request.get("gpu_ids")
            count = int(request.get("gpu", 0))
            if wanted_ids or (count and self.gpus):
                ids = [int(i) for i in wanted_ids] if wanted_ids else self.free_gpus[:count]
                if wanted_ids and any(i not in self.gpus for i in ids):
                    raise ValueError(f"GPU(s) {ids} requested, this server has {self.gpus}")
                if count > len(self.gpus):  # would wait forever
                    raise ValueError(f"{count} GPUs requested, this server has {len(self.gpus)}")
                if len(ids) < max(count, 1) and not wanted_ids or any(i not in self.free_gpus for i in ids):
                    return None
                grant["gpus"] = ids
            elif count:
                grant["pools"]["train_cpu"] = 1
            for name, amount in request.items():
                if name in ("gpu", "gpu_ids", "procs"):
                    continue
                grant["pools"][name] = int(amount)
            for name, amount in grant["pools"].items():
                if self.used.get(name, 0) + amount > self.capacity.get(name, 1):
                    return None
            for name, amount in grant["pools"].items():
                self.used[name] = self.used.get(name, 0) + amount
            for gpu in grant["gpus"]:
                self.free_gpus.remove(gpu)
            return grant

    def release(self, grant):
        with self._lock:
            for name, amount in grant["pools"].items():
                self.used[name] -= amount
            self.free_gpus.extend(g for g in grant["gpus"] if g not in self.free_gpus)

    def describe(self):
        with self._lock:
            return {"capacity": dict(self.capacity), "used": dict(self.used), "gpus": list(self.gpus),
                    "free_gpus": list(self.free_gpus)}
