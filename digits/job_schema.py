"""Shape checks for a job.json read back from disk.

A file that is valid JSON but holds the wrong types (edited by hand, written by another version, or
damaged) must make that one job a BrokenJob at load time, not a 500 on every page that lists jobs
or a server that will not start. Errors are ValueError naming the field.
"""
import math

from digits.status import Status
from digits.utils.checks import is_number

_NUMBER = (int, float)


def _fail(field, expected, value):
    raise ValueError(f"job.json: {field} should be {expected}, not {value!r:.80}")


def _check(field, value, types, expected, optional=False):
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, types):
        _fail(field, expected, value)
    if isinstance(value, float) and not math.isfinite(value):
        _fail(field, expected, value)


def check_history(field, history):
    _check(field, history, list, "a list of [status, time] pairs", optional=True)
    for entry in history or []:
        if not (isinstance(entry, list) and len(entry) == 2 and entry[0] in Status.ALL
                and is_number(entry[1], finite=False)):
            _fail(field, f"a list of [status, time] pairs with a status among {', '.join(Status.ALL)}", entry)


def check_job_data(data):
    if not isinstance(data, dict):
        raise ValueError("job.json does not hold an object")
    _check("name", data.get("name"), str, "a string")
    _check("owner", data.get("owner"), str, "a string", optional=True)
    for field in ("group", "notes"):
        _check(field, data.get(field), str, "a string", optional=True)
    _check("created", data.get("created"), _NUMBER, "a time in seconds", optional=True)
    for field in ("form_data", "extra"):
        _check(field, data.get(field), dict, "an object", optional=True)
    check_history("status_history", data.get("status_history"))
    _check("tasks", data.get("tasks"), list, "a list", optional=True)
    for i, task in enumerate(data.get("tasks") or []):
        check_task_data(f"tasks[{i}]", task)


def check_task_data(field, task):
    _check(field, task, dict, "an object")
    _check(f"{field}.name", task.get("name"), str, "a string")
    _check(f"{field}.tool", task.get("tool"), str, "a string")
    _check(f"{field}.args", task.get("args"), list, "a list", optional=True)
    _check(f"{field}.resources", task.get("resources"), dict, "an object", optional=True)
    for pool, count in (task.get("resources") or {}).items():
        _check(f"{field}.resources.{pool}", count, int, "a count")
    state = task.get("state") or {}
    _check(f"{field}.state", state, dict, "an object")
    check_history(f"{field}.state.status_history", state.get("status_history"))
    _check(f"{field}.state.progress", state.get("progress"), _NUMBER, "a number", optional=True)
    _check(f"{field}.state.eta", state.get("eta"), _NUMBER, "a number", optional=True)
    for key in ("restarts", "returncode", "pid"):
        _check(f"{field}.state.{key}", state.get(key), int, "an integer", optional=True)
    for key in ("results", "metrics"):
        _check(f"{field}.state.{key}", state.get(key), dict, "an object", optional=True)
    for key in ("snapshots", "warnings", "gpus"):
        _check(f"{field}.state.{key}", state.get(key), list, "a list", optional=True)
    for series in (state.get("metrics") or {}).values():
        if not isinstance(series, list) or not all(isinstance(p, list) and len(p) == 2 for p in series):
            _fail(f"{field}.state.metrics", "lists of [epoch, value] points", series)
    for snap in state.get("snapshots") or []:
        if not (isinstance(snap, dict) and isinstance(snap.get("epoch"), _NUMBER)):
            _fail(f"{field}.state.snapshots", "a list of {epoch, file} objects", snap)
    for gpu in state.get("gpus") or []:
        _check(f"{field}.state.gpus", gpu, int, "GPU indexes")
    _check(f"{field}.state.error", state.get("error"), str, "a string", optional=True)
