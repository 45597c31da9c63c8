"""What a child process that may run users' code gets: an environment built from an allowlist (so no
secret of the server's reaches a network's code or a tool), and, set up in the child before exec, its
own session at a lower priority, resource limits and, with DIGITS_TASK_USER, an unprivileged user.

Used by the scheduler's tasks and by the inference/check workers; torch-free (the web process uses it).
"""
import functools
import logging
import os
import pwd
import resource
import subprocess
import sys
from collections import namedtuple

log = logging.getLogger("digits.sandbox")

# Names the tools and workers read (grep digits/ for os.environ) or that Python, torch, CUDA and
# the BLAS libraries need. Anything else of the server's environment (DIGITS_SECRET_KEY, cloud
# credentials, tokens) stays in the server.
_NAMES = {"PATH", "LANG", "LANGUAGE", "TZ", "TMPDIR", "HOME", "USER", "LOGNAME", "LD_LIBRARY_PATH",
          "PYTHONPATH", "PYTHONHASHSEED", "PYTHONWARNINGS", "PYTHONDONTWRITEBYTECODE", "PYTHONIOENCODING",
          "PYTHONUTF8", "DIGITS_TRAIN_THREADS", "DIGITS_TRAIN_WORKERS", "DIGITS_INFERENCE_DEVICE",
          "DIGITS_INFERENCE_THREADS", "DIGITS_INFERENCE_CACHE"}
_PREFIXES = ("LC_", "CUDA_", "NVIDIA_", "NCCL_", "CUBLAS_", "OMP_", "KMP_", "MKL_", "OPENBLAS_", "TORCH_",
             "PYTORCH_")
# Even under an allowed prefix: a name like these holds a credential, not a setting.
_SECRET_WORDS = ("SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "KEY")

PYTHON_NETWORKS_OFF = ("Python networks are turned off on this server (DIGITS_PYTHON_NETWORKS=0): "
                       "use a standard network or a Caffe prototxt")

TaskUser = namedtuple("TaskUser", "name uid gid groups home")


def _allowed(name):
    if any(word in name.upper() for word in _SECRET_WORDS):
        return False
    return name in _NAMES or name.startswith(_PREFIXES)


def child_environment(extra=None, user=None, environ=None):
    """The environment of a task or worker: the allowed part of ours (or of environ), the task user's
    identity when there is one, then extra."""
    source = os.environ if environ is None else environ
    env = {name: value for name, value in source.items() if _allowed(name)}
    if user is not None:
        env.update(HOME=user.home, USER=user.name, LOGNAME=user.name)
    env.update(extra or {})
    return env


# ----- the task user
def resolve_task_user(name):
    """DIGITS_TASK_USER as a TaskUser (None when unset); ValueError when it cannot be used. A server
    running as root without one is allowed, but logged: users' code would run as root."""
    if not name:
        if os.geteuid() == 0:
            log.warning("the server runs as root and DIGITS_TASK_USER is not set: tasks, and the users' "
                        "Python networks they run, run as root too; set DIGITS_TASK_USER to an unprivileged user")
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ValueError(f"DIGITS_TASK_USER={name!r}: there is no such user on this machine") from None
    if entry.pw_uid == 0:
        raise ValueError(f"DIGITS_TASK_USER={name!r} is root; name an unprivileged user")
    if os.geteuid() not in (0, entry.pw_uid):
        raise ValueError(f"DIGITS_TASK_USER={name!r}: only a server started as root can run tasks as another "
                         f"user (this one runs as uid {os.geteuid()})")
    groups = tuple(sorted(set(os.getgrouplist(name, entry.pw_gid))))
    user = TaskUser(name, entry.pw_uid, entry.pw_gid, groups, entry.pw_dir)
    _probe(user)
    return user


def _probe(user):
    """Tried at start-up rather than found out by every task failing to start: can the task user run
    our Python and import our tools (a virtual environment in root's home would not do)?"""
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = child_environment({"PYTHONPATH": package_parent}, user)
    try:
        probe = subprocess.run([sys.executable, "-c", "import digits.tools"], cwd="/", env=env, timeout=120,
                               preexec_fn=functools.partial(child_setup, user=user), capture_output=True, text=True)
        problem = (probe.stderr.strip().splitlines() or [f"exit code {probe.returncode}"])[-1] if probe.returncode else None
    except (OSError, subprocess.SubprocessError) as exc:
        problem = str(exc)
    if problem:
        raise ValueError(f"DIGITS_TASK_USER={user.name!r} cannot run this server's Python ({sys.executable}) "
                         f"and its tools: {problem}")


def describe(task_user):
    """The System page's facts: who tasks run as, and a warning when that is root."""
    if task_user is not None:
        return {"task_user": task_user.name, "task_user_warning": None}
    if os.geteuid() == 0:
        return {"task_user": "root", "task_user_warning": "The server runs as root and DIGITS_TASK_USER is not "
                "set: tasks and users' Python networks run as root. Set DIGITS_TASK_USER to an unprivileged user."}
    try:
        name = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:   # a uid without a name (containers)
        name = f"uid {os.geteuid()}"
    return {"task_user": name, "task_user_warning": None}


def give_folder(path, user):
    """Makes a job folder (and what is in it) the task user's, so its tools can write there."""
    if user is None:
        return
    for folder, dirs, files in os.walk(path):
        for name in [folder] + [os.path.join(folder, n) for n in dirs + files]:
            os.lchown(name, user.uid, user.gid)


def _may(user, st, bits):
    shift = 6 if st.st_uid == user.uid else 3 if st.st_gid in user.groups else 0
    return (st.st_mode >> shift) & bits == bits


def require_readable(user, paths):
    """PermissionError naming the first of paths (or a folder above it) the task user cannot read.
    Judged by the permission bits (not ACLs), before the task starts, so the job says why."""
    if user is None:
        return
    for path in paths:
        if not os.path.exists(path):
            continue   # the tool reports a missing path itself
        parts = os.path.realpath(path).split(os.sep)
        for depth in range(1, len(parts)):
            folder = os.sep.join(parts[:depth]) or os.sep
            if not _may(user, os.stat(folder), 0o1):
                raise PermissionError(f"the task user {user.name} cannot read {path} (it may not enter {folder})")
        st = os.stat(path)
        if not _may(user, st, 0o5 if os.path.isdir(path) else 0o4):
            raise PermissionError(f"the task user {user.name} cannot read {path}")


# ----- in the child, before exec
def child_setup(nice=None, memory_mb=None, user=None):
    """preexec_fn of tasks and workers: a session of its own at a lower priority (with Linux's
    autogroup scheduling a session's CPU share ignores per-process nice, hence the autogroup write),
    a cap on its memory, then the task user. Memory is capped with RLIMIT_DATA: RLIMIT_AS counts
    the address space torch's libraries map and stops its import below ~4 GB, RLIMIT_DATA counts
    what is allocated (heap and private mappings) and lets torch import under 1 GB."""
    os.setsid()
    if nice:
        os.nice(int(nice))
        try:
            with open("/proc/self/autogroup", "w") as f:
                f.write(str(int(nice)))
        except OSError:
            pass
    if memory_mb:
        limit = int(memory_mb) << 20
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    if user is not None and os.geteuid() != user.uid:
        os.setgroups(list(user.groups))
        os.setgid(user.gid)
        os.setuid(user.uid)


def limit_cpu(seconds):
    """From now on, at most `seconds` more CPU time (all threads) for this process, then SIGXCPU (at
    the soft limit) and SIGKILL (one second later). Soft and hard, so the code it is set for cannot
    lift it: the process serves this one request and is then replaced."""
    if not seconds:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime + float(seconds)) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 1))
