"""GPU facts from NVML (nvidia-ml-py) when a driver is present; an empty list everywhere else."""
import logging
import threading

log = logging.getLogger("digits.device")
_nvml_lock = threading.Lock()
_nvml_state = {"initialized": False, "available": None}


def _nvml():
    """Returns the pynvml module once NVML is initialized, or None on machines without a driver."""
    with _nvml_lock:
        if _nvml_state["available"] is False:
            return None
        try:
            import pynvml
            if not _nvml_state["initialized"]:
                pynvml.nvmlInit()
                _nvml_state["initialized"] = True
            _nvml_state["available"] = True
            return pynvml
        except Exception as exc:  # ImportError, NVMLError_LibraryNotFound, driver errors ...
            log.info("NVML not available: %s", exc)
            _nvml_state["available"] = False
            return None


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def gpu_count():
    nvml = _nvml()
    if nvml is None:
        return 0
    try:
        return nvml.nvmlDeviceGetCount()
    except Exception:
        return 0


def visible_gpu_indices(override=None):
    """GPU indices the scheduler may hand out; DIGITS_GPUS ("0,2" or "" for none) overrides NVML."""
    if override is not None:
        return [int(i) for i in override]
    return list(range(gpu_count()))


def gpu_info(index):
    """Name, memory, utilization and temperature of one GPU, or None if NVML cannot tell."""
    nvml = _nvml()
    if nvml is None:
        return None
    try:
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        memory = nvml.nvmlDeviceGetMemoryInfo(handle)
        info = {"index": index, "name": _text(nvml.nvmlDeviceGetName(handle)),
                "memory_total": int(memory.total), "memory_used": int(memory.used)}
        try:
            util = nvml.nvmlDeviceGetUtilizationRates(handle)
            info["utilization"] = int(util.gpu)
            info["memory_utilization"] = int(util.memory)
        except Exception:
            info["utilization"] = None
        try:
            info["temperature"] = int(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))
        except Exception:
            info["temperature"] = None
        return info
    except Exception as exc:
        log.warning("NVML query for GPU %s failed: %s", index, exc)
        return None


def all_gpus(indices=None):
    if indices is None:
        indices = range(gpu_count())
    return [info for info in (gpu_info(i) for i in indices) if info]


def host_info():
    import psutil
    memory = psutil.virtual_memory()
    return {"cpu_count": psutil.cpu_count(), "cpu_percent": psutil.cpu_percent(interval=None),
            "memory_total": memory.total, "memory_used": memory.total - memory.available,
            "memory_percent": memory.percent}
