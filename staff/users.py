"""Staff accounts from the command line (`make staff-user NAME=<login> ROLE=staff|admin`).

    python -m staff.users add LOGIN --role staff|admin
    python -m staff.users list
    python -m staff.users disable LOGIN
    python -m staff.users enable LOGIN
    python -m staff.users set-password LOGIN      (also lifts a lock; ends its sessions)
    python -m staff.users reset-2fa LOGIN         (a lost phone: set up again at next sign-in)

Passwords come from the environment variable STAFF_PASSWORD, else are asked
for twice without echo.  The database is DATABASE_URL (else SQLite in
DATA_DIR), migrated first.  Whoever can run this has shell access to the
server, so it acts as an admin (audited as "(cli)").  Nothing secret is
printed.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence

from clinic_core import settings, storage
from staff import auth, two_factor

PASSWORD_ENV = "STAFF_PASSWORD"


class CommandError(Exception):
    pass


def read_password(login: str = "") -> str:
    configured = settings.load().staff_password
    password = configured.get_secret_value() if configured else ""
    if password:
        auth.check_password_policy(password, login)
        return password
    for _ in range(3):
        password = getpass.getpass("Password (at least 12 characters): ")
        try:
            auth.check_password_policy(password, login)
        except ValueError as error:
            print(error, file=sys.stderr)
            continue
        if getpass.getpass("Password again: ") == password:
            return password
        print("The two passwords differ.", file=sys.stderr)
    raise CommandError("no password set")


def _add(url: str | None, args: argparse.Namespace) -> None:
    login, role = auth.check_login(args.login), auth.check_role(args.role)
    user = auth.create_user(url, login, read_password(login), role, actor=auth.SYSTEM)
    print(f"Added staff user {user.login!r} (role {user.role}).")


def _list(url: str | None, args: argparse.Namespace) -> None:
    users = auth.list_users(url, actor=auth.SYSTEM)
    if not users:
        print("No staff users.")
        return
    now = storage.utcnow()
    print(f"{'LOGIN':<24} {'ROLE':<6} {'STATUS':<9} CREATED (UTC)")
    for user in users:
        status = "disabled" if user.disabled else "locked" if user.locked(now) else "active"
        created = user.created_at.strftime("%Y-%m-%d %H:%M")
        print(f"{user.login:<24} {user.role:<6} {status:<9} {created}")


def _disable(url: str | None, args: argparse.Namespace) -> None:
    user = auth.disable_user(url, args.login, actor=auth.SYSTEM)
    print(f"Disabled staff user {user.login!r}.")


def _enable(url: str | None, args: argparse.Namespace) -> None:
    user = auth.enable_user(url, args.login, actor=auth.SYSTEM)
    print(f"Enabled staff user {user.login!r}.")


def _set_password(url: str | None, args: argparse.Namespace) -> None:
    auth.check_login(args.login)
    user = auth.set_password(url, args.login, read_password(args.login), actor=auth.SYSTEM)
    print(f"Password of {user.login!r} set.")


def _reset_two_factor(url: str | None, args: argparse.Namespace) -> None:
    user = two_factor.reset(url, args.login, actor=auth.SYSTEM)
    print(f"Two-factor sign-in of {user.login!r} reset; it is set up again at the next sign-in.")


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(
        prog="python -m staff.users", description="Manage staff console accounts."
    )
    commands = main_parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="add an account (password: $STAFF_PASSWORD or prompt)")
    add.add_argument("login")
    add.add_argument("--role", choices=auth.ROLES, default=auth.STAFF)
    add.set_defaults(run=_add)
    commands.add_parser("list", help="list accounts").set_defaults(run=_list)
    for name, run, text in (
        ("disable", _disable, "disable an account"),
        ("enable", _enable, "enable an account again"),
        ("set-password", _set_password, "set a new password (lifts a lock)"),
        ("reset-2fa", _reset_two_factor, "remove the account's second factor (a lost phone)"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("login")
        command.set_defaults(run=run)
    return main_parser


def main(argv: Sequence[str] | None = None, url: str | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        storage.migrate(url)
        args.run(url, args)
    except (CommandError, ValueError, LookupError, PermissionError) as error:
        message = error.args[0] if error.args else type(error).__name__
        print(f"error: {message}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, EOFError):
        print("", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
