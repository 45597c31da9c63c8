"""A stand-in for the pynvml module, so NVML code paths run on machines without a GPU."""
import sys
import types

from digits import device


def install(monkeypatch, gpus=(("Tesla T4", 16, 3, 37, 55), ("A100-SXM4-80GB", 80, 40, 91, 71))):
    """gpus: (name, total GiB, used GiB, utilization %, temperature °C) per device; one fails util."""
    def handle(index):
        if not 0 <= index < len(gpus):
            raise RuntimeError(f"NVML_ERROR_INVALID_ARGUMENT: no GPU {index}")
        return index

    fake = types.ModuleType("pynvml")
    fake.NVML_TEMPERATURE_GPU = 0
    fake.nvmlInit = lambda: None
    fake.nvmlDeviceGetCount = lambda: len(gpus)
    fake.nvmlDeviceGetHandleByIndex = handle
    fake.nvmlDeviceGetName = lambda h: gpus[h][0].encode()   # older pynvml returns bytes
    fake.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(total=gpus[h][1] * 2**30,
                                                                   used=gpus[h][2] * 2**30)
    fake.nvmlDeviceGetUtilizationRates = lambda h: types.SimpleNamespace(gpu=gpus[h][3], memory=10)
    fake.nvmlDeviceGetTemperature = lambda h, sensor: gpus[h][4]
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    monkeypatch.setattr(device, "_nvml_state", {"initialized": False, "available": None})
    return fake
