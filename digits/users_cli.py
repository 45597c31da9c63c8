"""`digits-devserver users add|remove|passwd|role|list`: the accounts of password mode (DIGITS_AUTH=password).

Works on the accounts file in the jobs folder, also while the server runs (it re-reads the file).
Passwords are asked twice on a terminal, or read as one line from stdin with --password-stdin.
"""
import argparse
import getpass
import os
import sys

from digits.users import ROLES, UserError, UserStore


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="digits-devserver users", description="Manage password-mode accounts.")
    parser.add_argument("--jobs-dir", default=None, help="the server's jobs folder (default $DIGITS_JOBS_DIR or "
                                                         "~/.digits/jobs)")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="create an account")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="may abort and delete anyone's jobs")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    passwd = sub.add_parser("passwd", help="set a new password (signs the user's browsers out)")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    role = sub.add_parser("role", help="make a user an admin or a plain user")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    sub.add_parser("remove", help="delete an account (its jobs stay)").add_argument("name")
    sub.add_parser("list", help="list the accounts")
    return parser.parse_args(argv)


def _password(from_stdin):
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise UserError("the two passwords differ")
    return first


def main(argv):
    args = parse_args(argv)
    jobs_dir = os.path.realpath(args.jobs_dir or os.environ.get("DIGITS_JOBS_DIR")
                                or os.path.join(os.path.expanduser("~"), ".digits", "jobs"))
    store = UserStore(jobs_dir)
    try:
        if args.command == "list":
            for name in store.names():
                print(f"{name}\t{store.role(name)}\t{len(store.tokens(name))} token(s)")
            return 0
        if args.command == "add":
            store.add(args.name, _password(args.password_stdin), "admin" if args.admin else "user")
        elif args.command == "passwd":
            if store.get(args.name) is None:
                raise UserError(f"no user {args.name!r}")
            store.set_password(args.name, _password(args.password_stdin))
        elif args.command == "role":
            store.set_role(args.name, args.role)
        else:
            store.remove(args.name)
    except (UserError, OSError) as exc:
        print(f"digits-devserver users: {exc}", file=sys.stderr)
        return 1
    print(f"{args.command}: {args.name} (accounts in {store.path})")
    return 0
