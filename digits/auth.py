"""DIGITS-style identity: a `username` cookie set by POST /login; owners alone change their jobs."""
import functools
import re

from flask import abort, redirect, request, url_for

from digits.utils.routing import json_error, wants_json

USERNAME_RE = re.compile(r"^[a-z][a-z0-9._-]+$")
COOKIE = "username"


def current_user():
    name = request.cookies.get(COOKIE)
    if name and USERNAME_RE.match(name):
        return name
    return None


def validate_username(name):
    if not name or not USERNAME_RE.match(name):
        return ("invalid username: use lowercase letters, digits, '.', '_' or '-', "
                "starting with a letter, at least 2 characters")
    return None


def login_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if current_user() is None:
            if wants_json():
                return json_error("login required: POST /login with a username first", 401)
            return redirect(url_for("digits.login", next=request.full_path if request.query_string else request.path))
        return view(*args, **kwargs)
    return wrapper


def require_owner(job, action="change"):
    user = current_user()
    if user is None:
        abort(401, description=f"login required to {action} a job")
    if job.owner != user:
        abort(403, description=f"only the owner ({job.owner}) may {action} this job")
