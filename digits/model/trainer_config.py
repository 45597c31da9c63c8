"""train_config.json: written by the model job (web process), read, filled with defaults and checked
(errors name the field) by the training tool. Torch-free at import: the web process writes it."""
import json
import os

from digits.frameworks.registry import names as framework_names
from digits.model.lr_policy import POLICIES
from digits.model.preprocess_spec import MEAN_MODES
from digits.model.solver import optimizer_spec
from digits.utils.atomic import write_json
from digits.utils.checks import is_number

CONFIG_FILE = "train_config.json"
DEFAULTS = {
    "train_epochs": 30, "snapshot_interval": 1, "val_interval": 1, "random_seed": None, "batch_size": None,
    "batch_accumulation": 1, "solver_type": "SGD", "learning_rate": 0.01, "momentum": 0.9,
    "weight_decay": 0.0005, "rms_decay": 0.99, "lr_policy": {"policy": "fixed"}, "crop_size": None,
    "use_mean": "none", "shuffle": True, "augmentation": {}, "pretrained": None, "gpus": [],
    # digits.model.early_stopping: None = no early stopping, the task type's metric, every snapshot kept
    "early_stopping_patience": None, "best_metric": None, "snapshots_to_keep": None,
}


class ConfigError(ValueError):
    """A train_config.json field that cannot be used; the message names it."""


def _int(config, name, minimum, allow_none=False):
    value = config.get(name)
    if value is None and allow_none:
        return None
    if not is_number(value, finite=False) or not float(value).is_integer():
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _nonneg_number(config, name):
    value = config.get(name)
    if value is None:
        return 0.0
    if not is_number(value) or value < 0:
        raise ConfigError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


def check(config, job_dir):
    """Normalised copy of a train config dict; raises ConfigError naming the bad field."""
    if not isinstance(config, dict):
        raise ConfigError("train_config.json must hold a JSON object")
    cfg = dict(DEFAULTS)
    cfg.update({k: v for k, v in config.items() if v is not None or k in ("random_seed", "batch_size",
                                                                          "crop_size", "pretrained")})
    dataset_dir = cfg.get("dataset_dir")
    if not isinstance(dataset_dir, str) or not os.path.isdir(dataset_dir):
        raise ConfigError(f"dataset_dir {dataset_dir!r} is not a dataset folder")
    cfg["dataset_dir"] = os.path.abspath(dataset_dir)
    network = cfg.get("network")
    if not isinstance(network, dict) or network.get("framework") not in framework_names():
        raise ConfigError(f"network.framework must be one of {', '.join(framework_names())}, got {network!r}")
    net_file = os.path.join(job_dir, str(network.get("file") or ""))
    if not network.get("file") or not os.path.isfile(net_file):
        raise ConfigError(f"network.file {network.get('file')!r} is not a file in the job folder")
    cfg["network"] = {"framework": network["framework"], "file": os.path.abspath(net_file)}
    cfg["train_epochs"] = _int(cfg, "train_epochs", 1)
    cfg["snapshot_interval"] = _nonneg_number(cfg, "snapshot_interval")
    cfg["val_interval"] = _nonneg_number(cfg, "val_interval")
    cfg["random_seed"] = _int(cfg, "random_seed", 0, allow_none=True)
    cfg["batch_size"] = _int(cfg, "batch_size", 1, allow_none=True)
    cfg["batch_accumulation"] = _int(cfg, "batch_accumulation", 1)
    cfg["crop_size"] = _int(cfg, "crop_size", 1, allow_none=True)
    cfg["early_stopping_patience"] = _int(cfg, "early_stopping_patience", 1, allow_none=True)
    cfg["snapshots_to_keep"] = _int(cfg, "snapshots_to_keep", 1, allow_none=True)
    if cfg["best_metric"] is not None and not isinstance(cfg["best_metric"], str):
        raise ConfigError(f"best_metric must be a metric name, got {cfg['best_metric']!r}")
    try:
        optimizer_spec(cfg["solver_type"], cfg["learning_rate"], cfg["momentum"], cfg["weight_decay"],
                       cfg["rms_decay"])
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from None
    policy = cfg["lr_policy"]
    if not isinstance(policy, dict) or policy.get("policy", "fixed") not in POLICIES:
        raise ConfigError(f"lr_policy.policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    if cfg["use_mean"] not in MEAN_MODES:
        raise ConfigError(f"use_mean must be one of {', '.join(MEAN_MODES)}, got {cfg['use_mean']!r}")
    cfg["shuffle"] = bool(cfg["shuffle"])
    if not isinstance(cfg["augmentation"], dict):
        raise ConfigError("augmentation must be a JSON object")
    from digits.model.augment import Augment   # torch
    try:
        Augment(cfg["augmentation"])
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    cfg["pretrained"] = _pretrained(cfg.get("pretrained"))
    if not isinstance(cfg["gpus"], list):
        raise ConfigError(f"gpus must be a list, got {cfg['gpus']!r}")
    return cfg


def _pretrained(value):
    if not value:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("file"), str):
        raise ConfigError("pretrained must be null or {\"file\": path, \"lr_multiplier\": number}")
    if not os.path.isfile(value["file"]):
        raise ConfigError(f"pretrained.file {value['file']!r} does not exist")
    multiplier = value.get("lr_multiplier", 1.0)
    if multiplier is None:
        multiplier = 1.0
    if not is_number(multiplier, finite=False) or multiplier < 0:
        raise ConfigError(f"pretrained.lr_multiplier must be a number >= 0, got {multiplier!r}")
    return {"file": os.path.abspath(value["file"]), "lr_multiplier": float(multiplier)}


def write(job_dir, config):
    write_json(os.path.join(job_dir, CONFIG_FILE), config)


def load(job_dir):
    path = os.path.join(job_dir, CONFIG_FILE)
    try:
        with open(path) as f:
            config = json.load(f)
    except OSError as exc:
        raise ConfigError(f'cannot read "{path}": {exc.strerror or exc}') from None
    except ValueError as exc:
        raise ConfigError(f"{CONFIG_FILE} is not valid JSON: {exc}") from None
    return check(config, job_dir)
