"""Settings, read from environment variables (and overridable by create_app(config))."""
import os
import secrets

from digits.utils.cpu import usable_cores


SECRET_KEY_FILE = ".secret_key"
AUTH_MODES = ("open", "password")


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the variable and what it wants."""


def _env_number(name, default, cast=int, minimum=None):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = cast(value)
    except ValueError:
        kind = "an integer" if cast is int else "a number"
        raise ConfigError(f"{name} must be {kind}, not {value!r}") from None
    if minimum is not None and number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value!r}")
    return number


def inference_workers():
    """DIGITS_INFERENCE_WORKERS: inference worker processes, each with its own model cache (default a
    quarter of the usable cores, at least 1). A bad value stops the server at start-up (ConfigError)."""
    return _env_number("DIGITS_INFERENCE_WORKERS", max(1, usable_cores() // 4), minimum=1)


def _env_gpus():
    gpus = _env_list("DIGITS_GPUS")
    if gpus is not None and not all(g.isdigit() for g in gpus):
        raise ConfigError(f"DIGITS_GPUS must be GPU indexes like \"0,2\" (or empty for none), "
                          f"not {os.environ['DIGITS_GPUS']!r}")
    return gpus


def _env_list(name):
    value = os.environ.get(name)
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def _secret_key(jobs_dir):
    """A per-installation key that signs sessions and CSRF tokens, kept in the jobs folder (mode 0600,
    hidden, never served by /files) so they survive restarts. Whoever can read it can sign in as anyone."""
    path = os.path.join(jobs_dir, SECRET_KEY_FILE)
    try:
        with open(path) as f:
            key = f.read().strip()
            if key:
                return key
    except OSError:
        pass
    key = secrets.token_hex(32)
    try:
        os.makedirs(jobs_dir, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key)
    except OSError:
        pass
    return key


def _env_choice(name, default, choices):
    value = (os.environ.get(name) or default).strip().lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {os.environ[name]!r}")
    return value


def _task_user(name):
    from digits.sandbox import TaskUser, resolve_task_user
    if isinstance(name, TaskUser):
        return name
    try:
        return resolve_task_user(name)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def load_config(overrides=None):
    """Returns the settings dict used by the app, the scheduler and the job kinds."""
    overrides = dict(overrides or {})
    jobs_dir = overrides.get("jobs_dir") or os.environ.get("DIGITS_JOBS_DIR") or os.path.join(
        os.path.expanduser("~"), ".digits", "jobs")
    jobs_dir = os.path.realpath(jobs_dir)
    roots = overrides.get("allowed_roots") or _env_list("DIGITS_ALLOWED_ROOTS")
    if not roots:
        # By default users may point at their home and the usual data places, never at /etc & co.
        roots = [os.path.expanduser("~"), "/data", "/datasets", "/mnt", "/media", "/tmp", "/srv"]
    config = {
        "jobs_dir": jobs_dir,
        "port": _env_number("DIGITS_PORT", 5000, minimum=0),
        "host": os.environ.get("DIGITS_HOST", "0.0.0.0"),
        "allowed_roots": [os.path.realpath(r) for r in roots],
        # None means "ask NVML"; a list restricts/overrides the visible GPU indices.
        "gpus": _env_gpus(),
        "cpu_train_slots": _env_number("DIGITS_CPU_TRAIN_SLOTS", 1, minimum=1),
        "max_upload_bytes": _env_number("DIGITS_MAX_UPLOAD_MB", 2048, minimum=1) * 1024 * 1024,
        "abort_grace_seconds": _env_number("DIGITS_ABORT_GRACE", 5.0, cast=float, minimum=0),
        "task_nice": _env_number("DIGITS_TASK_NICE", 5, minimum=0),
        "task_user": os.environ.get("DIGITS_TASK_USER", "").strip() or None,   # a name; a TaskUser once loaded
        "python_networks": _env_choice("DIGITS_PYTHON_NETWORKS", "1", ("1", "0")) == "1",
        # Network checks (model submit, Visualize): workers, and the limits of each check.
        "check_workers": _env_number("DIGITS_CHECK_WORKERS", 2, minimum=1),
        "check_timeout": _env_number("DIGITS_CHECK_TIMEOUT", None, cast=float, minimum=1),   # None: 60 s
        "check_cpu_seconds": _env_number("DIGITS_CHECK_CPU_SECONDS", 120, minimum=1),
        "check_memory_mb": _env_number("DIGITS_CHECK_MEMORY_MB", 4096, minimum=1024),
        "inference_workers": inference_workers(),
        "async_mode": os.environ.get("DIGITS_ASYNC_MODE", "gevent"),
        "secret_key": os.environ.get("DIGITS_SECRET_KEY"),
        "auth": _env_choice("DIGITS_AUTH", "open", AUTH_MODES),
        "max_waiting_per_user": _env_number("DIGITS_MAX_WAITING_PER_USER", 20, minimum=1),
        "plugins": _env_list("DIGITS_PLUGINS") or [],
        # Model stores (http(s):// or file:// base URLs); the cap on all the files one push downloads (None:
        # the pretrained upload cap).
        "model_store_urls": _env_list("DIGITS_MODEL_STORE_URL") or [],
        "model_store_max_bytes": (_env_number("DIGITS_MODEL_STORE_MAX_MB", 0, minimum=1) * 1024 * 1024) or None,
        "start_scheduler": True,
        "testing": False,
    }
    config.update(overrides)
    config["jobs_dir"] = os.path.realpath(config["jobs_dir"])
    config["task_user"] = _task_user(config["task_user"])
    if not config["secret_key"]:
        config["secret_key"] = _secret_key(config["jobs_dir"])
    return config
