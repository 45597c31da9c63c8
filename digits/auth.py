"""Who is asking, and what they may do.

Two modes (DIGITS_AUTH):
- `open` (default, DIGITS' own): `POST /login -F username=…` picks any name; no password. Fit for a
  trusted network: anyone who can reach the server can act as any name they type, but not as a name
  they merely put in a cookie.
- `password`: accounts made with `digits-devserver users add`, a password at login, API tokens
  (`Authorization: Bearer …`) for scripts, an `admin` role that may abort or delete any job. Nothing is
  readable before logging in.

Either way the identity is a Flask-Login session in Flask's signed session cookie, so a forged or
edited cookie is anonymous. Views ask `current_user()` for the name, or None.
"""
import functools
import logging
import re

import flask_login
from flask import abort, current_app, redirect, request, session, url_for

from digits.login_throttle import LoginThrottle
from digits.utils.routing import json_error, wants_json

USERNAME_RE = re.compile(r"^[a-z][a-z0-9._-]+$")
# Reachable without logging in, in password mode: the login page itself and what it is drawn with.
PUBLIC_ENDPOINTS = {"digits.login", "digits.logout", "digits.whoami", "static", "vendor.vendor"}


class User(flask_login.UserMixin):
    def __init__(self, name, role="user", session_key="", token_id=None):
        self.name, self.role, self.session_key, self.token_id = name, role, session_key, token_id

    def get_id(self):
        # The session names the user's current key: a password change or removal ends old sessions.
        return f"{self.name}:{self.session_key}" if self.session_key else self.name

    @property
    def is_admin(self):
        return self.role == "admin"


def init_app(app, config):
    manager = flask_login.LoginManager()
    manager.init_app(app)
    manager.session_protection = None   # DIGITS scripts replay a cookie jar from other addresses
    mode = config["auth"]
    # Open mode keeps DIGITS' year-long name cookie; accounts sign in again after a month.
    app.config.update(SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_NAME="digits_session",
                      PERMANENT_SESSION_LIFETIME=(30 if mode == "password" else 365) * 24 * 3600)
    if mode == "password":
        from digits.users import UserStore
        store = app.extensions["digits_users"] = UserStore(config["jobs_dir"])
        app.extensions["digits_login_throttle"] = LoginThrottle()
        if not store.names():
            logging.getLogger("digits.auth").warning(
                "DIGITS_AUTH=password and no accounts yet: add one with `digits-devserver users add NAME --admin`")
    manager.user_loader(functools.partial(_load_user, mode))
    manager.request_loader(functools.partial(_load_from_token, mode))

    @app.before_request
    def _everything_needs_login():
        if mode == "password" and request.endpoint not in PUBLIC_ENDPOINTS and current_user() is None:
            message = "log in first (POST /login with username and password, or send Authorization: Bearer <token>)"
            # only a browser asking for a page is sent to the login form; scripts and fetch() get a 401
            if "text/html" in request.headers.get("Accept", "") and not wants_json():
                return unauthorized(message)
            return json_error(message, 401)
        return None


def _load_user(mode, user_id):
    if mode == "open":
        return User(user_id) if USERNAME_RE.match(user_id or "") else None
    name, _, key = (user_id or "").partition(":")
    store = user_store()
    if not key or store.session_key(name) != key:
        return None
    return User(name, store.role(name), key)


def _load_from_token(mode, req):
    header = req.headers.get("Authorization", "")
    if mode != "password" or not header.startswith("Bearer "):
        return None
    store = user_store()
    name, token_id = store.user_for_token(header[len("Bearer "):].strip())
    if name is None:
        return None
    return User(name, store.role(name), store.session_key(name), token_id)


def auth_mode():
    return current_app.extensions["digits"]["config"]["auth"]


def user_store():
    return current_app.extensions["digits_users"]


def current_user():
    user = flask_login.current_user
    return user.name if user and user.is_authenticated else None


def current_user_is_admin():
    user = flask_login.current_user
    return bool(user and user.is_authenticated and user.is_admin)


class TooManyFailures(Exception):
    def __init__(self, retry_after):
        super().__init__(f"too many wrong passwords for this user name from this address: "
                         f"try again in {retry_after} s")
        self.retry_after = retry_after


def log_in(name, password=None):
    """Starts a session for name; returns an error message (and nothing changes) if it may not.
    Raises TooManyFailures while this name and address are held back (password mode)."""
    problem = validate_username(name)
    if problem:
        return problem
    if auth_mode() == "password":
        store, throttle, address = user_store(), current_app.extensions["digits_login_throttle"], request.remote_addr
        wait = throttle.retry_after(name, address)
        if wait:
            raise TooManyFailures(wait)
        if not store.check_password(name, password):
            throttle.failed(name, address)
            return "wrong user name or password"
        throttle.succeeded(name, address)
        user = User(name, store.role(name), store.session_key(name))
    else:
        user = User(name)
    session.permanent = True
    flask_login.login_user(user)
    return None


def log_out():
    flask_login.logout_user()
    session.clear()


def validate_username(name):
    if not name or not USERNAME_RE.match(name):
        return ("invalid username: use lowercase letters, digits, '.', '_' or '-', "
                "starting with a letter, at least 2 characters")
    return None


def unauthorized(message):
    if wants_json():
        return json_error(message, 401)
    # _method: from a POST, url_for would pick /login.json (POST only), which the browser then GETs
    return redirect(url_for("digits.login", _method="GET",
                            next=request.full_path if request.query_string else request.path))


def login_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if current_user() is None:
            return unauthorized("login required: POST /login with a username first")
        return view(*args, **kwargs)
    return wrapper


ADMIN_ACTIONS = ("abort", "delete")


def require_owner(job, action="change"):
    user = current_user()
    if user is None:
        abort(401, description=f"login required to {action} a job")
    if not may_act(job, action):
        abort(403, description=f"only the owner ({job.owner}) may {action} this job")


def may_act(job, action):
    """The owner rule: the signed-in user owns the job, or is an admin and the action is one admins
    may take on anybody's job."""
    return job.owner == current_user() or (action in ADMIN_ACTIONS and current_user_is_admin())
