"""`influbot web` and `influbot moderator ...`: build the service with web accounts as moderators, serve it."""

from __future__ import annotations

import argparse
import getpass
import sys

from bot.config import Settings
from bot.desk.moderators import Moderators
from bot.storage import open_storage
from bot.web.auth import Accounts, BadName, generate_password


def _accounts(args: argparse.Namespace) -> Accounts:
    settings = Settings.from_env()
    return Accounts(open_storage(args.db or settings.db_path), settings.web_session_hours * 3600)


def _password() -> tuple[str, bool]:
    """From stdin when it is not a terminal (one line), else generated: (password, generated)."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n"), False
    return generate_password(), True


def cmd_moderator(args: argparse.Namespace) -> int:
    accounts = _accounts(args)
    try:
        if args.action == "list":
            for name in accounts.names():
                print(name)
            return 0
        if not args.name:
            print(f"usage: influbot moderator {args.action} NAME", file=sys.stderr)
            return 2
        name = args.name.lower()
        if args.action == "remove":
            if not accounts.remove(name):
                print(f"no moderator {name}", file=sys.stderr)
                return 1
            accounts.store.audit.record("console:" + getpass.getuser(), "moderator-remove", None, name)
            print(f"removed {name} (their sessions are ended)")
            return 0
        password, generated = _password()
        if args.action == "add":
            if not accounts.add(name, password):
                print(f"moderator {name} already exists (use `influbot moderator passwd {name}`)", file=sys.stderr)
                return 1
        elif not accounts.passwd(name, password):
            print(f"no moderator {name}", file=sys.stderr)
            return 1
        accounts.store.audit.record("console:" + getpass.getuser(), f"moderator-{args.action}", None, name)
        print(f"{'added' if args.action == 'add' else 'new password for'} {name}")
        if generated:
            print(f"password (shown once): {password}")
        return 0
    except (BadName, ValueError) as exc:
        print(f"influbot moderator: {exc}", file=sys.stderr)
        return 2
    finally:
        accounts.store.close()


def cmd_web(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.service import Service
    from bot.web.app import WebDesk

    settings = Settings.from_env()
    store = open_storage(args.db or settings.db_path)
    accounts = Accounts(store, settings.web_session_hours * 3600)
    trusted = Moderators()
    service = Service.create(settings, store=store, moderators=lambda who: trusted(who) or accounts.is_moderator(who))
    app = WebDesk(service, settings, accounts).app()
    if not accounts.names():
        print("no moderator accounts yet: add one with `influbot moderator add NAME`", file=sys.stderr)
    print(f"influbot web desk on http://{args.host}:{args.port}/", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", proxy_headers=True)
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    web = sub.add_parser("web", help="the moderator web desk (Starlette on uvicorn)")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=8080)
    web.add_argument("--db")
    web.set_defaults(func=cmd_web)

    mod = sub.add_parser("moderator", help="web desk accounts: add | list | remove | passwd")
    mod.add_argument("action", choices=["add", "list", "remove", "passwd"])
    mod.add_argument("name", nargs="?")
    mod.add_argument("--db")
    mod.set_defaults(func=cmd_moderator)
