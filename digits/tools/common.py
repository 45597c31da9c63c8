"""The one contract between a tool subprocess and the scheduler: JSON lines on stdout."""
import json
import sys
import traceback


def emit(type_, **fields):
    """Print one protocol message, e.g. emit("progress", value=0.42, epoch=4.2).

    Types the scheduler understands: progress (value 0..1), metric (phase, name, epoch, value),
    snapshot (epoch, file), result (any fields, merged into the task's results), warning (message),
    error (message). Flushed at once so the browser sees it live.
    """
    fields["type"] = type_
    sys.stdout.write(json.dumps(fields, default=_jsonable) + "\n")
    sys.stdout.flush()


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def run_main(main):
    """Runs main(), turning an uncaught exception into an error message and exit code 1."""
    try:
        code = main()
    except KeyboardInterrupt:
        raise
    except SystemExit:
        raise
    except BaseException as exc:  # report anything, the traceback goes to the task log
        traceback.print_exc(file=sys.stderr)
        emit("error", message=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()[-4000:])
        sys.exit(1)
    sys.exit(code or 0)
