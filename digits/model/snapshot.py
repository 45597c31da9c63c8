"""Snapshots: snapshot_epoch_<N>.pt in the model folder, written atomically, read with weights_only.

Contents: {"epoch": N, "model": state_dict (what inference loads), "aux_model": the auxiliary
classifiers' state_dict (GoogLeNet's loss1/loss2, training only), "optimizer": state_dict, "lr_scheduler": state_dict,
"scaler": GradScaler state or None, "rng": {...}, "random_seed": int, "iteration": int}.
RNG states are stored as tensors / plain lists (no numpy objects) so torch.load(weights_only=True)
accepts them.
"""
import io
import os
import random

import numpy as np
import torch

from digits.model.snapshot_names import snapshot_files, snapshot_name  # noqa: F401  (part of this API)
from digits.utils.atomic import atomic_open
from digits.utils.disk import write_error_text


def list_snapshots(model_dir):
    """[(epoch, path)] newest first; whole epochs only (training writes no others, and resumes by them)."""
    return [(epoch, os.path.join(model_dir, name)) for epoch, name in reversed(snapshot_files(model_dir))
            if isinstance(epoch, int)]


def save(path, state):
    """torch.save to a temp file in the same folder, fsync, then os.replace.

    Serialized in memory first: torch's writer turns a failed write (disk full) into an unrelated
    RuntimeError, while a plain write raises the OSError that says what is wrong.
    """
    buffer = io.BytesIO()
    torch.save(state, buffer)
    try:
        with atomic_open(path, "wb") as f:
            f.write(buffer.getbuffer())
    except OSError as exc:
        folder = os.path.dirname(os.path.abspath(path))
        raise SnapshotWriteError(f"could not write {os.path.basename(path)}: {write_error_text(exc, folder)}; "
                                 "earlier snapshots are intact") from None


class SnapshotWriteError(OSError):
    """A snapshot could not be written (disk full, permissions); the message says which and why."""


def load(path, map_location="cpu"):
    """A snapshot dict; raises ValueError naming the file when it is not a usable snapshot."""
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise ValueError(f'"{os.path.basename(path)}" is not a readable snapshot: {exc}') from None
    missing = [k for k in ("epoch", "model", "optimizer", "lr_scheduler") if not isinstance(state, dict) or k not in state]
    if missing:
        raise ValueError(f'"{os.path.basename(path)}" is not a training snapshot (missing {", ".join(missing)})')
    return state


def load_latest(model_dir, warn=None):
    """The newest loadable snapshot dict (corrupt/partial ones are skipped with a warning), or None."""
    for _epoch, path in list_snapshots(model_dir):
        try:
            return load(path)
        except ValueError as exc:
            if warn:
                warn(f"skipping snapshot: {exc}")
    return None


def load_weights(path):
    """A state_dict from a snapshot dict (its "model") or a bare state_dict .pt file."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f'cannot load pretrained weights "{path}": {_load_failure(exc)}') from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f'"{path}" holds neither a state_dict nor a snapshot with a "model" state_dict')
    return {_strip_prefix(k): v for k, v in state.items()}


def _load_failure(exc):
    """torch.load's failure in a line: a user's file (custom_network_snapshot) must not get torch's advice to
    load it with weights_only=False."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc)
    lines = [line.strip() for line in text.split("WeightsUnpickler error:")[-1].splitlines() if line.strip()]
    why = lines[0] if lines else type(exc).__name__
    if "Weights only load failed" in text:
        return f"not a PyTorch file that loads safely (weights_only): {why}"
    return why


def _strip_prefix(key):
    # DDP / torch.compile wrappers prefix every key
    for prefix in ("module.", "_orig_mod."):
        while key.startswith(prefix):
            key = key[len(prefix):]
    return key


def capture_rng():
    """Python, numpy, torch (and CUDA) RNG states in weights_only-loadable form."""
    py_version, py_state, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state = {
        "python": {"version": py_version, "state": torch.tensor(py_state, dtype=torch.int64),
                   "gauss": py_gauss},
        "numpy": {"name": np_name, "keys": torch.from_numpy(np_keys.astype(np.int64)), "pos": int(np_pos),
                  "has_gauss": int(np_has_gauss), "gauss": float(np_gauss)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def restore_rng(state):
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state((npy["name"], npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"],
                         npy["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def model_state(module):
    """CPU, contiguous state_dict of the bare module (no DDP prefix, no channels_last strides)."""
    from torch.nn.parallel import DistributedDataParallel

    if isinstance(module, DistributedDataParallel):
        module = module.module
    return {k: v.detach().to("cpu").contiguous() for k, v in module.state_dict().items()}


AUX_PREFIX = "aux_layers."


def split_aux(state, has_aux=True):
    """(main state_dict, auxiliary classifiers' state_dict): inference builds the main path only.
    has_aux: the network was built with auxiliary classifiers under module.aux_layers (Caffe)."""
    if not has_aux:
        return state, {}
    main = {k: v for k, v in state.items() if not k.startswith(AUX_PREFIX)}
    return main, {k: v for k, v in state.items() if k.startswith(AUX_PREFIX)}


def load_model_state(module, state, warn=None):
    """Loads a snapshot's "model" + "aux_model" into the training module. A snapshot taken before
    auxiliary classifiers were trained has none: they keep their fresh initialisation."""
    weights = dict(state["model"])
    weights.update(state.get("aux_model") or {})
    missing, unexpected = module.load_state_dict(weights, strict=False)
    fresh = [k for k in missing if k.startswith(AUX_PREFIX)]
    missing = [k for k in missing if not k.startswith(AUX_PREFIX)]
    if missing or unexpected:
        raise RuntimeError(f"missing keys {missing[:8]}, unexpected keys {unexpected[:8]}")
    if fresh and warn:
        warn(f"the snapshot has no weights for the auxiliary classifiers ({len(fresh)} tensors); they start fresh")
