"""Fair queues: how many jobs one user may have waiting at once (DIGITS_MAX_WAITING_PER_USER).

One user's burst (a script creating models in a loop, a sweep of hundreds) would otherwise hold
every GPU slot for hours while colleagues' jobs wait behind it. The limit counts jobs not yet
started (Initialized or Waiting) and a sweep counts each of its jobs; running jobs do not count.
"""
from werkzeug.exceptions import TooManyRequests

from digits.status import Status

RETRY_AFTER_SECONDS = 60
WAITING = (Status.INIT, Status.WAIT)


def waiting_jobs(scheduler, owner):
    return [j for j in scheduler.jobs.values() if j.owner == owner and j.status in WAITING]


def check_waiting(scheduler, owner, adding=1):
    """Raises TooManyRequests (a 429 with Retry-After) if owner's waiting jobs plus `adding` new ones pass the limit."""
    limit = scheduler.config.get("max_waiting_per_user")
    if not limit:
        return
    waiting = len(waiting_jobs(scheduler, owner))
    if waiting + adding > limit:
        what = f"these {adding} jobs" if adding > 1 else "another job"
        raise TooManyRequests(f"{owner} has {waiting} jobs waiting to run and the limit is {limit} per user "
                             f"(DIGITS_MAX_WAITING_PER_USER): wait until some start, or abort some, "
                             f"before adding {what}", retry_after=RETRY_AFTER_SECONDS)
