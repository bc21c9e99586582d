"""`influbot desk ...`: work the moderator desk from a terminal."""

from __future__ import annotations

import argparse

from bot.desk.desk import Desk, NotAllowed

USAGE = {
    "show": "show N",
    "claim": "claim N",
    "reply": "reply N TEXT",
    "note": "note N TEXT",
    "close": "close N",
    "reopen": "reopen N",
    "export": "export N",
    "block": "block USER HOURS",
    "snippet": "snippet N NAME",
}


def _age(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def snippets(desk: Desk, lang: str) -> dict[str, str]:
    """Saved replies: the standard referral texts (short form), one per topic."""
    from bot.content import load_content
    from bot.core.referrals import Referrals

    refs = Referrals(load_content(), desk.t)
    return {topic: refs.render(topic, lang, short=True).text for topic in load_content().templates}


def run_desk(desk: Desk, args: argparse.Namespace, moderator: str) -> int:
    a, rest = args.action, args.args
    try:
        if a in ("list", "all"):
            rows = desk.list(moderator, include_closed=a == "all")
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
        elif a == "dead":
            for r in desk.dead_letters():
                print(f"outbox #{r['id']} case {r['case_id']} → {r['target']}: {r['error']}")
        elif a == "snippets":
            for name, text in snippets(desk, "nl").items():
                print(f"{name}: {text.splitlines()[0]}")
        elif a == "block":
            user, hours = rest[0], float(rest[1]) if len(rest) > 1 else 24.0
            desk.block(moderator, user, hours * 3600)
            print(f"blocked {user} for {hours:g} h")
        else:
            case_id = int(rest[0])
            text = " ".join(rest[1:])
            if a == "show" or a == "export":
                print(desk.export(moderator, case_id))
            elif a == "claim":
                won, who = desk.claim(moderator, case_id)
                print(f"claimed #{case_id}" if won else f"#{case_id} is already claimed by {who}")
            elif a == "reply":
                if not text:
                    raise IndexError
                desk.reply(moderator, case_id, text)
                print(f"reply queued for #{case_id}")
            elif a == "note":
                desk.note(moderator, case_id, text)
                print(f"note added to #{case_id}")
            elif a == "snippet":
                case, _ = desk.show(moderator, case_id)
                lang = desk.store.get_state(case["user"]).lang
                desk.reply(moderator, case_id, snippets(desk, lang)[text.strip()])
                print(f"snippet {text} sent to #{case_id}")
            elif a == "close":
                desk.close(moderator, case_id)
                print(f"closed #{case_id}")
            elif a == "reopen":
                desk.reopen(moderator, case_id)
                print(f"reopened #{case_id}")
    except NotAllowed:
        print("not allowed: only moderators can use the desk")
        return 2
    except (IndexError, ValueError, KeyError) as exc:
        print(f"usage: influbot desk {USAGE.get(a, a)}" + (f" ({exc})" if str(exc) else ""))
        return 2
    except Exception as exc:  # sqlite_utils NotFoundError and friends
        if type(exc).__name__ == "NotFoundError":
            print(f"no case {rest[0] if rest else ''}")
            return 2
        raise
    return 0
