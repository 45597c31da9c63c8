"""How many CPU cores this process may use (its affinity mask, e.g. under taskset or a container's cpuset)."""
import os


def usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
