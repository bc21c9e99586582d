"""Command line: influbot chat | check | desk | web | moderator | run | bench | maintenance | relay | migrate."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from typing import IO, Any

from bot import logs
from bot.config import Settings, SettingsError
from bot.core.text import valid_unicode


def _service(args: argparse.Namespace, surfaces: tuple[str, ...] = ()):
    from bot.service import Service

    settings = getattr(args, "settings", None) or Settings.from_env()
    db = getattr(args, "db", None) or settings.db_path
    return Service.create(settings, db_path=db, surfaces=surfaces)


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.adapters import console_adapter

    service = _service(args)
    if args.json:
        console_adapter.run_json(service, sys.stdin, sys.stdout)
    else:
        console_adapter.run_interactive(service, args.user)
    return 0


MAX_CAPTION = 10_000  # characters; Instagram allows 2,200, YouTube descriptions 5,000


def caption_checker() -> Any:
    """The caption checker with the language detector of the built-in NLU (no database, no crisis model)."""
    from bot.content import content_hash, load_content
    from bot.core.captions import CaptionChecker
    from bot.core.nlu import load_models

    content = load_content()
    _, detector = load_models(content.training, content_hash(folders=("intents",)))
    return CaptionChecker(content.captions, detector)


def check_line(checker: Any, line: str) -> dict[str, Any]:
    """One line of `influbot check --json`: {"id", "text"} in, {"id", "verdict", "flags", "suggestion", "lang"} out;
    a line that is not such an object gets the same keys with verdict null and an `error`."""
    caption_id = None
    try:
        msg = json.loads(line)
        if not isinstance(msg, dict):
            raise ValueError("not an object")
        caption_id = msg.get("id")
        caption_id = valid_unicode(caption_id) if isinstance(caption_id, str) else caption_id  # "\\ud800" escapes
        text = msg.get("text")
        if not isinstance(text, str):
            raise ValueError('"text" must be a string')
        text = valid_unicode(text)
        if len(text) > MAX_CAPTION:
            raise ValueError(f"caption longer than {MAX_CAPTION} characters")
        return checker.check(text).contract(caption_id)
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        error = f'{exc}; expected {{"id": ..., "text": "<caption>"}}'
    except Exception:  # noqa: BLE001 - a bug must cost one line, not the rest of the input
        logging.getLogger(__name__).exception("caption check failed")
        error = "internal error while checking this caption"
    return {"id": caption_id, "verdict": None, "flags": [], "suggestion": "", "lang": None, "error": error}


def run_check(stdin: IO[str], stdout: IO[str], as_json: bool) -> None:
    """One answer per input line, in order, flushed. Without --json a line is the caption itself."""
    from bot.adapters.console_adapter import read_lines

    checker = caption_checker()
    for line in read_lines(stdin):  # a line that is not UTF-8 costs its bad bytes, not the run
        if as_json:
            out = json.dumps(check_line(checker, line), ensure_ascii=False)
        else:
            check = checker.check(line)
            out = "\t".join([check.verdict, ",".join(check.flags) or "-", check.suggestion])
        stdout.write(out + "\n")
        stdout.flush()


def cmd_check(args: argparse.Namespace) -> int:
    run_check(sys.stdin, sys.stdout, args.json)
    return 0


def cmd_desk(args: argparse.Namespace) -> int:
    from bot.desk.console import run_desk

    args.args = [valid_unicode(a) for a in args.args]  # undecodable argv bytes arrive as lone surrogates

    return run_desk(_service(args).desk, args, moderator=f"console:{getpass.getuser()}")


def cmd_maintenance(args: argparse.Namespace) -> int:
    service = _service(args)
    removed = service.desk.purge(service.settings.retention_days)
    print(f"removed {removed} closed case(s) older than {service.settings.retention_days:g} days")
    return 0


def cmd_relay(args: argparse.Namespace) -> int:
    from bot.runner import relay

    return relay(getattr(args, "settings", None) or Settings.from_env())


def cmd_migrate(args: argparse.Namespace) -> int:
    from bot.storage import open_storage

    store = open_storage(args.db or (getattr(args, "settings", None) or Settings.from_env()).db_path, migrate=False)
    try:
        applied = store.migrate()
    finally:
        store.close()
    print(f"applied migration(s) {', '.join(map(str, applied))}" if applied else "schema up to date")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from bot.bench import main as bench_main

    return bench_main(args)


def cmd_train(args: argparse.Namespace) -> int:
    """Train the intent classifier and the crisis detector once, so the first chat starts in under a second."""
    import time

    from bot.service import build_engine

    start = time.perf_counter()
    engine = build_engine()
    print(f"models ready in {time.perf_counter() - start:.1f} s (crisis detector: {'on' if engine.safety.model else 'off'})")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from bot.runner import run

    settings = getattr(args, "settings", None) or Settings.from_env()
    if args.webhook:
        if args.channel != "telegram":
            print("influbot: --webhook is for `influbot run telegram`", file=sys.stderr)
            return 2
        from bot.adapters.telegram_webhook import serve_workers

        return serve_workers(settings, workers=args.workers, host=args.host, port=args.port)
    return run(args.channel, settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="influbot", description="Chat bot for Belgian creators.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (stderr)")
    sub = parser.add_subparsers(dest="command", required=True)

    chat = sub.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument("--json", action="store_true", help="machine contract: JSON lines in, one JSON object out per line")
    chat.add_argument("--db", help="database file or postgresql:// URL (default: $INFLUBOT_DB or the user data dir)")
    chat.add_argument("--user", default="console", help="your user name in the console")
    chat.set_defaults(func=cmd_chat)

    check = sub.add_parser("check", help="check captions for Belgian ad-disclosure rules, one per input line")
    check.add_argument(
        "--json", action="store_true", help='contract: {"id", "text"} per line in, one verdict object out per line'
    )
    check.set_defaults(func=cmd_check)

    desk = sub.add_parser("desk", help="moderator desk on the same database")
    desk.add_argument("--db")
    desk.add_argument(
        "action",
        choices=[
            "list",
            "all",
            "show",
            "claim",
            "release",
            "tag",
            "reply",
            "note",
            "close",
            "reopen",
            "block",
            "export",
            "dead",
            "snippets",
            "snippet",
        ],
    )
    desk.add_argument("args", nargs="*")
    desk.set_defaults(func=cmd_desk)

    maint = sub.add_parser("maintenance", help="delete transcripts past the retention period")
    maint.add_argument("--db")
    maint.set_defaults(func=cmd_maintenance)

    bench = sub.add_parser("bench", help="measure speed, memory and accuracy; prints JSON")
    bench.add_argument("--messages", type=int, default=5000)
    bench.add_argument(
        "--db", help="also measure storage: a file, a postgresql:// URL, or 'postgres' for a throwaway local server"
    )
    bench.set_defaults(func=cmd_bench)

    train = sub.add_parser("train", help="train and cache the models (make install does this once)")
    train.set_defaults(func=cmd_train)

    run = sub.add_parser("run", help="run on Telegram and/or Discord (tokens from the environment)")
    run.add_argument("channel", nargs="?", choices=["telegram", "discord", "all"], default="all")
    run.add_argument("--webhook", action="store_true", help="Telegram: serve the webhook (ASGI on uvicorn) instead of polling")
    run.add_argument("--workers", type=int, default=1, help="webhook worker processes (share one PostgreSQL)")
    run.add_argument("--host", default=None, help="webhook listen address (default $TELEGRAM_WEBHOOK_LISTEN or 0.0.0.0)")
    run.add_argument("--port", type=int, default=None, help="webhook port (default $TELEGRAM_WEBHOOK_PORT or 8443)")
    run.set_defaults(func=cmd_run)

    relay = sub.add_parser(
        "relay", help="only relay the Telegram outbox (beside webhook workers started with INFLUBOT_WEBHOOK_RELAY=0)"
    )
    relay.set_defaults(func=cmd_relay)

    migrate = sub.add_parser("migrate", help="bring the database schema up to date (once, under a lock)")
    migrate.add_argument("--db")
    migrate.set_defaults(func=cmd_migrate)

    from bot.web.serve import add_parsers

    add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()  # every variable checked before anything starts
    except SettingsError as exc:
        print(f"influbot: {exc}", file=sys.stderr)
        return 2
    logs.setup(args.verbose, settings.secrets)
    args.settings = settings
    return args.func(args)
