"""`influbot desk ...`: work the moderator desk from a terminal."""

from __future__ import annotations

import argparse

from bot.desk import commands
from bot.desk.desk import Desk, NotAllowed, NotFound

USAGE = {
    "show": "show N",
    "export": "export N",
    "block": "block USER HOURS",
    **{
        name: f"{name} N {usage.split(' ', 1)[1]}" if " " in usage else f"{name} N"
        for name, usage in commands.USAGE.items()
        if name != "block"
    },
}


def _age(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def _list(desk: Desk, moderator: str, include_closed: bool) -> None:
    rows = desk.list(moderator, include_closed=include_closed)
    if not rows:
        print("no open cases")
    for r in rows:
        flag = " OVERDUE" if r["overdue"] else ""
        prio = "!" * r["priority"] or "-"
        print(
            f"#{r['id']:<4} {prio:<3} {r['status']:<8} {_age(r['age']):>7}  {r['channel']:<9} {r['display_name']}: {r['topic']}{flag}"
        )
    dead = desk.dead_letters()
    if dead:
        print(f"{len(dead)} undelivered message(s): influbot desk dead")


def run_desk(desk: Desk, args: argparse.Namespace, moderator: str) -> int:
    a, rest = args.action, args.args
    try:
        if a in ("list", "all"):
            _list(desk, moderator, include_closed=a == "all")
        elif a == "dead":
            for r in desk.dead_letters():
                print(f"outbox #{r['id']} case {r['case_id']} → {r['target']}: {r['error']}")
        elif a == "snippets":
            for name, text in desk.snippets("nl").items():
                print(f"{name}: {text.splitlines()[0]}")
        elif a == "block":
            user, hours = rest[0], commands.parse_hours(rest[1] if len(rest) > 1 else "")
            desk.block(moderator, user, hours * 3600)
            print(f"blocked {user} for {hours:g} h")
        elif a in ("show", "export"):
            print(desk.export(moderator, int(rest[0])))
        else:
            print(commands.run(desk, moderator, a, int(rest[0]), " ".join(rest[1:])))
    except NotAllowed:
        print("not allowed: only moderators can use the desk")
        return 2
    except NotFound:
        print(f"no case {rest[0] if rest else ''}")
        return 2
    except commands.Usage as exc:
        print(f"usage: influbot desk {USAGE.get(a, a)}" + (f" ({exc})" if str(exc) and str(exc) != commands.USAGE.get(a) else ""))
        return 2
    except (IndexError, ValueError, KeyError) as exc:
        print(f"usage: influbot desk {USAGE.get(a, a)}" + (f" ({exc})" if str(exc) else ""))
        return 2
    return 0
