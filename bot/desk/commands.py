"""The desk commands on one case, shared by the terminal (`influbot desk`), Telegram topics and Discord slash
commands: claim, release, note, reply, close, reopen, block, snippet, tag. Each returns the line to show the
moderator; bad arguments raise `Usage`."""

from __future__ import annotations

import math

from bot.desk.desk import Desk

USAGE = {
    "claim": "claim",
    "release": "release",
    "note": "note TEXT",
    "reply": "reply TEXT",
    "close": "close",
    "reopen": "reopen",
    "block": "block [HOURS]",
    "snippet": "snippet NAME",
    "tag": "tag [+]NAME|-NAME ...",
}
HELP = (
    "commands: /claim, /release, /note TEXT, /close, /reopen, /block HOURS, /snippet NAME, /tag NAME; other text goes to the user"
)


class Usage(ValueError):
    """The command exists but its arguments are wrong; the text is the usage line."""


def parse_hours(arg: str) -> float:
    try:
        hours = float(arg) if arg.strip() else 24.0
    except ValueError:
        hours = math.nan
    if not 0 < hours < 1e6:  # also refuses nan and inf
        raise Usage("HOURS must be a number above 0 (default 24)")
    return hours


def run(desk: Desk, moderator: str, action: str, case_id: int, arg: str = "", name: str | None = None) -> str:
    """Run one desk command on `case_id`. Raises NotAllowed, NotFound, Usage or ValueError (e.g. case closed)."""
    arg = arg.strip()
    if action not in USAGE:
        raise Usage(HELP)
    if action in ("note", "reply", "snippet") and not arg:
        raise Usage(USAGE[action])
    if action == "claim":
        won, holder = desk.claim(moderator, case_id)
        return f"claimed #{case_id}" if won else f"#{case_id} is already claimed by {holder}"
    if action == "release":
        return f"released #{case_id}" if desk.release(moderator, case_id) else f"#{case_id} is not claimed by you"
    if action == "note":
        desk.note(moderator, case_id, arg)
        return f"note added to #{case_id}"
    if action == "reply":
        desk.reply(moderator, case_id, arg, name)
        return f"reply queued for #{case_id}"
    if action == "close":
        desk.close(moderator, case_id)
        return f"closed #{case_id}"
    if action == "reopen":
        desk.reopen(moderator, case_id)
        return f"reopened #{case_id}"
    if action == "block":
        hours = parse_hours(arg)
        user = desk.case(case_id)["user"]
        desk.block(moderator, user, hours * 3600)
        return f"blocked {user} for {hours:g} h"
    if action == "snippet":
        texts = desk.snippets(desk.user_lang(desk.case(case_id)["user"]))
        if arg not in texts:
            return "snippets: " + ", ".join(sorted(texts))
        desk.reply(moderator, case_id, texts[arg], name)
        return f"snippet {arg} sent to #{case_id}"
    words = arg.split()
    if not words:
        raise Usage(USAGE["tag"])
    tags = desk.tag(
        moderator,
        case_id,
        add=tuple(w.lstrip("+") for w in words if not w.startswith("-")),
        remove=tuple(w[1:] for w in words if w.startswith("-")),
    )
    return f"tags of #{case_id}: {', '.join(tags) or '-'}"
