"""The signed-in user's page: their jobs, and in password mode their password and API tokens."""
import functools

from flask import Blueprint, jsonify, redirect, render_template, request

from digits import auth
from digits.auth import current_user, login_required
from digits.users import UserError
from digits.utils.routing import json_error, scheduler, wants_json, wants_json_reply

blueprint = Blueprint("account", __name__)


def _accounts(view):
    """Views of password mode's accounts: login required, and given the user store."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if auth.auth_mode() != "password":
            return json_error("API tokens and passwords exist only when the server runs with "
                              "DIGITS_AUTH=password", 404)
        return view(auth.user_store(), *args, **kwargs)
    return login_required(wrapper)


@blueprint.route("/user")
@blueprint.route("/user.json")
@login_required
def show():
    if wants_json():
        data = _context()
        return jsonify(dict(data, jobs=[j.summary() for j in data["jobs"]]))
    return _page_with()


@blueprint.route("/user/tokens", methods=["POST"])
@blueprint.route("/user/tokens.json", methods=["POST"])
@_accounts
def create_token(store):
    try:
        token, entry = store.create_token(current_user(), request.form.get("name"))
    except UserError as exc:
        return _failed(str(exc), 409)
    if wants_json_reply():
        return jsonify(dict(entry, token=token))
    return _page_with(new_token=dict(entry, token=token))


@blueprint.route("/user/tokens/<token_id>", methods=["DELETE"])
@blueprint.route("/user/tokens/<token_id>.json", methods=["DELETE"])
@blueprint.route("/user/tokens/<token_id>/delete", methods=["POST"])   # HTML forms cannot DELETE
@_accounts
def delete_token(store, token_id):
    try:
        store.delete_token(current_user(), token_id)
    except UserError as exc:
        return _failed(str(exc), 404)
    return jsonify({"id": token_id, "deleted": True}) if wants_json_reply() else redirect("/user")


@blueprint.route("/user/password", methods=["POST"])
@blueprint.route("/user/password.json", methods=["POST"])
@_accounts
def change_password(store):
    name = current_user()
    if not store.check_password(name, request.form.get("current_password")):
        return _failed("the current password is wrong", 403)
    try:
        store.set_password(name, request.form.get("new_password"))
    except UserError as exc:
        return _failed(str(exc), 400)
    auth.log_in(name, request.form.get("new_password"))   # the old session key is gone: sign in again
    return jsonify({"username": name, "changed": True}) if wants_json_reply() else redirect("/user")


def _failed(message, code):
    if wants_json_reply():
        return json_error(message, code)
    return _page_with(error=message), code


def _context():
    name = current_user()
    password_mode = auth.auth_mode() == "password"
    jobs = sorted((j for j in scheduler().jobs.values() if j.owner == name), key=lambda j: j.created, reverse=True)
    return {"username": name, "admin": auth.current_user_is_admin(), "auth": auth.auth_mode(),
            "tokens": auth.user_store().tokens(name) if password_mode else [], "jobs": jobs}


def _page_with(**context):
    values = dict(_context(), new_token=None, error=None)
    values.update(context)
    return render_template("user.html", **values)
