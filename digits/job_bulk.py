"""DIGITS' bulk actions on a selection of jobs: group, abort, delete (`job_ids[]` form fields).

Each job is checked on its own (it exists, the user may act on it, its state allows it); what is
allowed is done, and the answer lists what was done and, for each job that was not, why. As in
DIGITS any refusal makes the answer a 400 (scripts test the status code), but nothing refused is
touched: a dataset is deleted only when every model using it is deleted with it.
"""
from digits.auth import may_act

MAX_IDS = 1000   # a selection is what a person ticks; more is a script gone wrong
PAST = {"group": "regrouped", "abort": "aborted", "delete": "deleted"}


class BulkError(ValueError):
    """The request itself is unusable (no ids, too many): a 400 before any job is looked at."""


def requested_ids(request):
    """The ids of `job_ids[]` (jQuery's name for a list), or `job_ids` (requests/curl), or a JSON body's
    "job_ids"; each once, in the order given."""
    ids = request.form.getlist("job_ids[]") + request.form.getlist("job_ids")
    body = request.get_json(silent=True) if request.is_json else None
    if isinstance(body, dict) and isinstance(body.get("job_ids"), list):
        ids += [i for i in body["job_ids"] if isinstance(i, str)]
    ids = list(dict.fromkeys(i.strip() for i in ids if i and i.strip()))
    if not ids:
        raise BulkError("no jobs selected: send one job_ids[] field per job")
    if len(ids) > MAX_IDS:
        raise BulkError(f"{len(ids)} jobs selected; at most {MAX_IDS} at once")
    return ids


class Report:
    """What a bulk action did: ids done, and {id, reason} for each one not done."""

    def __init__(self, action):
        self.action, self.done, self.not_done = action, [], []

    def refuse(self, job_id, reason, name=None):
        """name: the job's, when there is one; people see names in the tables, not ids."""
        self.not_done.append(dict({"id": job_id, "reason": reason}, **({"name": name} if name else {})))

    def answer(self):
        """(JSON body, HTTP status)."""
        count = len(self.not_done)
        body = {"action": self.action, "done": self.done, "not_done": self.not_done,
                "message": f"Jobs {PAST[self.action]}." if not count else
                f"{len(self.done)} job(s) {PAST[self.action]}; {count} not: " +
                "; ".join(f"{p['name']!r} ({p['id']}): {p['reason']}" if "name" in p else f"{p['id']}: {p['reason']}"
                          for p in self.not_done)}
        if count:
            body["error"] = {"message": body["message"], "type": "BadRequest"}
        return body, 400 if count else 200


def _permitted(sched, job_ids, action, report):
    """The jobs of job_ids the current user may act on; the others refused in report."""
    jobs = []
    for job_id in job_ids:
        job = sched.get_job(job_id)
        if job is None:
            report.refuse(job_id, "no such job")
        elif job.owner is None and job.load_error:   # unreadable, owner unknown: anyone signed in clears it
            jobs.append(job)
        elif not may_act(job, action):
            report.refuse(job_id, f"only its owner ({job.owner}) may {action} it", job.name)
        else:
            jobs.append(job)
    return jobs


def group(sched, job_ids, group_name):
    report = Report("group")
    for job in _permitted(sched, job_ids, "group", report):
        if job.load_error:
            report.refuse(job.id, "its job.json cannot be read, so it cannot be changed", job.name)
            continue
        form_data = dict(job.form_data, group_name=group_name) if job.form_data else job.form_data
        job.save_changed(group=group_name, form_data=form_data)   # a clone keeps the new group
        sched.emitter.job_update(job, "attribute", group=job.group)
        report.done.append(job.id)
    return report


def abort(sched, job_ids):
    report = Report("abort")
    for job in _permitted(sched, job_ids, "abort", report):
        if sched.abort_job(job):
            report.done.append(job.id)
        else:
            report.refuse(job.id, f"it is {job.status}: there is nothing to abort", job.name)
    return report


def delete(sched, job_ids):
    report = Report("delete")
    chosen = {job.id: job for job in _permitted(sched, job_ids, "delete", report)}
    chosen_names = {job_id: job.name for job_id, job in chosen.items()}
    # A job used by one that stays (not selected, or refused) stays too; that may keep others in turn.
    blocked = {}
    changed = True
    while changed:
        changed = False
        for job_id, job in list(chosen.items()):
            users = [d for d in sched.dependents(job) if d.id != job_id and d.id not in chosen]
            if users:
                blocked[job_id] = users
                del chosen[job_id]
                changed = True
    for job_id, users in blocked.items():
        names = ", ".join(f"{u.name!r} ({u.id})" for u in users)
        report.refuse(job_id, f"in use by {names}; delete those first or with it", chosen_names[job_id])
    # Users before what they use, so no job is ever left pointing at a deleted one.
    while chosen:
        ready = [j for j in chosen.values() if not any(d.id in chosen and d.id != j.id for d in sched.dependents(j))]
        for job in ready or list(chosen.values()):   # a cycle cannot happen; never loop forever if it did
            sched.delete_job(job)
            report.done.append(job.id)
            chosen.pop(job.id)
    report.done.sort(key=job_ids.index)
    return report
