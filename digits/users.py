"""Accounts for password mode (DIGITS_AUTH=password): one file, `.users.json` in the jobs folder.

The file holds argon2 password hashes and SHA-256 digests of API tokens (tokens are 256 random bits,
so a fast digest is enough; only their owner ever sees them in clear, once). It is written atomically
with mode 0600 and re-read when it changes on disk, so `digits-devserver users ...` takes effect in a
running server without a restart. Each user has a `session_key` that a password change or removal
rotates: browser sessions signed with the old one stop working at once.
"""
import hashlib
import json
import os
import secrets
import threading
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from digits.utils.atomic import atomic_open

USERS_FILE = ".users.json"
ROLES = ("user", "admin")
MIN_PASSWORD = 8
MAX_TOKENS = 20
_hasher = PasswordHasher()


class UserError(ValueError):
    """A request on the accounts that cannot be done; the message says why."""


def _digest(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class UserStore:
    def __init__(self, jobs_dir):
        self.path = os.path.join(jobs_dir, USERS_FILE)
        self._lock = threading.RLock()
        self._users = {}
        self._stamp = None

    # ----- reading
    def _fresh(self):
        """The users, re-read when the file changed (the CLI may have written it)."""
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._users = self._read() if stamp else {}
                self._stamp = stamp
            return self._users

    def _read(self):
        try:
            with open(self.path) as f:
                data = json.load(f)
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read the accounts file {self.path}: {exc}") from None
        users = data.get("users") if isinstance(data, dict) else None
        if not isinstance(users, dict):
            raise UserError(f"the accounts file {self.path} has no \"users\" object")
        return users

    def names(self):
        return sorted(self._fresh())

    def get(self, name):
        return self._fresh().get(name)

    def role(self, name):
        user = self.get(name)
        return user.get("role", "user") if user else None

    def session_key(self, name):
        user = self.get(name)
        return user.get("session_key") if user else None

    def check_password(self, name, password):
        """True for the right password. An unknown user costs a hash too, so timing tells nothing."""
        user = self.get(name)
        encoded = user.get("password") if user else None
        try:
            _hasher.verify(encoded or _DUMMY_HASH, password or "")
        except (VerificationError, InvalidHashError):
            return False
        return user is not None

    def user_for_token(self, token):
        digest = _digest(token)
        for name, user in self._fresh().items():
            for entry in user.get("tokens", []):
                if secrets.compare_digest(entry.get("digest", ""), digest):
                    return name, entry["id"]
        return None, None

    def tokens(self, name):
        """The user's tokens without their digests."""
        user = self.get(name) or {}
        return [{k: v for k, v in t.items() if k != "digest"} for t in user.get("tokens", [])]

    # ----- changes
    def _change(self, change):
        with self._lock:
            users = json.loads(json.dumps(self._fresh()))   # a copy: memory changes only once written
            result = change(users)
            folder = os.path.dirname(self.path)
            os.makedirs(folder, exist_ok=True)
            with atomic_open(self.path, "w") as f:
                os.fchmod(f.fileno(), 0o600)
                json.dump({"users": users}, f, indent=1, sort_keys=True)
            self._users, self._stamp = users, None
            return result

    def add(self, name, password, role="user"):
        from digits.auth import validate_username
        problem = validate_username(name)
        if problem:
            raise UserError(problem)
        _check_password(password)
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}")

        def change(users):
            if name in users:
                raise UserError(f"user {name!r} exists already (use passwd to change the password)")
            users[name] = {"password": _hasher.hash(password), "role": role, "created": time.time(),
                           "session_key": secrets.token_hex(8), "tokens": []}
        self._change(change)

    def remove(self, name):
        def change(users):
            if users.pop(name, None) is None:
                raise UserError(f"no user {name!r}")
        self._change(change)

    def set_password(self, name, password):
        _check_password(password)

        def change(users):
            user = self._existing(users, name)
            user["password"] = _hasher.hash(password)
            user["session_key"] = secrets.token_hex(8)
        self._change(change)

    def set_role(self, name, role):
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}")
        self._change(lambda users: self._existing(users, name).__setitem__("role", role))

    def create_token(self, name, label):
        """Returns (token, its public entry); the token itself is never stored."""
        label = (label or "").strip()[:100] or "API token"
        token = "dgt_" + secrets.token_urlsafe(32)

        def change(users):
            user = self._existing(users, name)
            tokens = user.setdefault("tokens", [])
            if len(tokens) >= MAX_TOKENS:
                raise UserError(f"at most {MAX_TOKENS} tokens per user: delete one first")
            entry = {"id": secrets.token_hex(4), "name": label, "created": time.time(), "digest": _digest(token)}
            tokens.append(entry)
            return {k: v for k, v in entry.items() if k != "digest"}
        return token, self._change(change)

    def delete_token(self, name, token_id):
        def change(users):
            user = self._existing(users, name)
            kept = [t for t in user.get("tokens", []) if t.get("id") != token_id]
            if len(kept) == len(user.get("tokens", [])):
                raise UserError(f"no token {token_id!r}")
            user["tokens"] = kept
        self._change(change)

    @staticmethod
    def _existing(users, name):
        if name not in users:
            raise UserError(f"no user {name!r}")
        return users[name]


def _check_password(password):
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")


_DUMMY_HASH = _hasher.hash(secrets.token_hex(8))
