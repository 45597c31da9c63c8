"""The one contract between a tool subprocess and the scheduler: JSON lines on stdout."""
import json
import os
import sys
import sysconfig
import traceback

EXCERPT_FRAMES = 3
_DIGITS_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + os.sep
_LIBRARY_DIRS = tuple({os.path.realpath(sysconfig.get_paths()[k]) + os.sep for k in ("stdlib", "purelib", "platlib")})


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
        emit("error", message=error_message(exc), traceback=traceback.format_exc()[-4000:])
        sys.exit(1)
    sys.exit(code or 0)


def error_message(exc, frames=EXCERPT_FRAMES):
    """'ValueError: exploded (at network.py line 12, in forward)' and the last few frames with their
    code — the job's error must say where, and the full traceback is only in the task log.

    Python's and installed libraries' frames (torch's module machinery) are left out: the last frames
    of our own code or the user's network are the ones that tell what failed.
    """
    if getattr(exc, "user_error", False):   # bad input, said in full by the message: where is no help
        return str(exc)
    headline = "".join(traceback.format_exception_only(type(exc), exc)).strip() or type(exc).__name__
    own = [f for f in traceback.extract_tb(exc.__traceback__) if not _is_library(f.filename)][-frames:]
    if not own:
        return headline
    last = own[-1]
    lines = [f"{headline} (at {_short(last.filename)} line {last.lineno}, in {last.name})"]
    for frame in own:
        code = (frame.line or "").strip()
        lines.append(f"  {_short(frame.filename)} line {frame.lineno}, in {frame.name}" + (f": {code}" if code else ""))
    return "\n".join(lines)


def _is_library(filename):
    return filename.startswith("<frozen") or os.path.realpath(filename).startswith(_LIBRARY_DIRS)


def _short(filename):
    if filename.startswith("<") and filename.endswith(">"):   # source compiled from text, e.g. <network.py>
        return filename[1:-1]
    if filename.startswith(_DIGITS_ROOT):
        return filename[len(_DIGITS_ROOT):]
    return os.path.basename(filename)
