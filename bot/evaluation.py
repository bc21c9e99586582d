"""Measured the way users meet the bot: crisis detection per topic and language, and FAQ answers end to end.

Sets (tests/data/): `safety_eval.jsonl`, `faq_eval.jsonl` are tuning sets (written after looking at the
lexicon and the intents); `dev/` is a blind development set used to calibrate thresholds; `heldout/` is
blind and never used for training or tuning. See tests/data/README.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bot.content import data_root
from bot.core.safety import GUIDANCE_TOPICS
from bot.core.text import strip_accents

# A referral counts as the right topic when it leads to the same help: suicide, self-harm and acute danger
# share their first lines (1813 / the Centre de Prévention du Suicide, then 112).
FAMILY = {"acute_danger": "suicide", "self_harm": "suicide"}


def rows(name: str) -> list[dict[str, Any]]:
    path = data_root() / "tests" / "data" / name
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def family(topic: str | None) -> str | None:
    return FAMILY.get(topic, topic) if topic else None


def safety_report(detector: Any, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Recall ("some fitting referral"), right topic family, calm precision, and recall per topic x language."""
    found = right = calm = calm_ok = 0
    table: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    crisis = [r for r in items if r["crisis"]]
    for row in items:
        hit = detector.detect(row["text"], row.get("before") or [])
        hit = None if hit and hit.topic in GUIDANCE_TOPICS else hit  # safe-posting guidance is an answer, no referral
        if not row["crisis"]:
            calm += 1
            calm_ok += hit is None
            continue
        cell = table[row["topic"]][row["lang"]]
        cell[1] += 1
        if hit:
            found += 1
            cell[0] += 1
            right += family(hit.topic) == family(row["topic"])
    return {
        "crisis": len(crisis),
        "calm": calm,
        "recall": _ratio(found, len(crisis)),
        "right_topic": _ratio(right, found),
        "calm_precision": _ratio(calm_ok, calm),
        "per_topic": {t: {lang: f"{a}/{n}" for lang, (a, n) in sorted(langs.items())} for t, langs in sorted(table.items())},
    }


def conversation_detector(engine: Any) -> Any:
    """A detector that answers with what the user gets end to end: each message (after its earlier turns) through
    the whole pipeline of a fresh conversation; a hit is any referral in the reply, the warm reply with the general
    lines for distress that no layer flagged included."""
    from bot.core.types import Inbound, Referral, State

    class Conversation:
        def detect(self, text: str, before: Any = ()) -> Any:
            state = State()
            for earlier in before:
                _, state = engine.handle(Inbound(user="console:eval", text=earlier), state)
            reply, _ = engine.handle(Inbound(user="console:eval", text=text), state)
            return next((p for p in reply if isinstance(p, Referral)), None)

    return Conversation()


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def fold(text: str) -> str:
    return " ".join(strip_accents(text.lower()).replace("\u202f", " ").replace("\xa0", " ").split())


def has_facts(answer: str, must: list[list[str]]) -> bool:
    """Every group of the `must` list has one alternative in the answer (case- and accent-insensitive)."""
    text = fold(answer)
    return all(any(fold(alt) in text for alt in group) for group in must)


def chat_json(
    lines: Iterable[dict[str, str]], env: dict[str, str] | None = None, in_process: bool = False
) -> list[dict[str, Any]]:
    """Run `influbot chat --json` once over all lines (a fresh database) and return its output objects.
    `in_process` runs the same loop in this process (for calibration runs that change module constants)."""
    if in_process:
        return _chat_json_here(list(lines))
    with tempfile.TemporaryDirectory() as tmp:
        run_env = {**os.environ, **(env or {}), "INFLUBOT_DB": str(Path(tmp) / "eval.db")}
        out = subprocess.run(
            [sys.executable, "-m", "bot", "chat", "--json"],
            input="".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines),
            capture_output=True,
            text=True,
            env=run_env,
            check=True,
        )
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def _chat_json_here(lines: list[dict[str, str]]) -> list[dict[str, Any]]:
    import io

    from bot.adapters.console_adapter import run_json
    from bot.service import Service

    with tempfile.TemporaryDirectory() as tmp:
        service = Service.create(db_path=Path(tmp) / "eval.db")
        out = io.StringIO()
        run_json(service, io.StringIO("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)), out)
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def _answers(out: dict[str, Any]) -> tuple[str, list[str]]:
    """The answer text in one reply: FAQ answers, helpline referrals ("where do I send a follower who...") and a
    helpline's card ("awel nummer"); empty when none), and the FAQ choices it offers, in order."""
    answer = "\n".join(
        p["text"]
        for p in out["parts"]
        if (p["type"] == "Text" and (p.get("faq_id") or p.get("helpline"))) or p["type"] == "Referral"
    )
    menus = [c["payload"] for p in out["parts"] if p["type"] == "Choices" for c in p["options"]]
    return answer, [m for m in menus if m.startswith("faq:")]


def faq_report(items: list[dict[str, Any]], env: dict[str, str] | None = None, in_process: bool = False) -> dict[str, Any]:
    """End to end through `chat --json`: an in-scope item is right when the answer has its facts; with
    `menu`, also when one click on an offered FAQ choice gives them. Out of scope: right when neither a FAQ
    answer nor a referral is given."""
    lines: list[dict[str, str]] = []
    index = []  # (item number, user, position of the question's reply)
    for i, item in enumerate(items):
        user = f"eval{i}"
        for before in item.get("before") or []:
            lines.append({"user": user, "text": before})
        index.append((i, user, len(lines)))
        lines.append({"user": user, "text": item["text"]})
    outputs = chat_json(lines, env, in_process)
    clicks: list[dict[str, str]] = []
    pending: list[tuple[int, int]] = []  # item, position in clicks
    first: dict[int, tuple[bool, str]] = {}
    for i, _user, pos in index:
        item = items[i]
        answer, offered = _answers(outputs[pos])
        first[i] = (bool(answer) and has_facts(answer, item["must"]), answer)
        if not item["oos"] and not first[i][0]:
            for k, payload in enumerate(offered[:3]):
                prefix = [{"user": f"click{i}_{k}", "text": b} for b in item.get("before") or []]
                clicks += [*prefix, {"user": f"click{i}_{k}", "text": item["text"]}]
                pending.append((i, len(clicks)))
                clicks.append({"user": f"click{i}_{k}", "text": str(_position(outputs[pos], payload))})
    click_out = chat_json(clicks, env, in_process) if clicks else []
    by_menu = {i for i, pos in pending if has_facts(_answers(click_out[pos])[0], items[i]["must"])}
    inscope = [i for i, item in enumerate(items) if not item["oos"]]
    oos = [i for i, item in enumerate(items) if item["oos"]]
    strict = sum(first[i][0] for i in inscope)
    per_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for i in inscope:
        per_lang[items[i]["lang"]][0] += first[i][0]
        per_lang[items[i]["lang"]][1] += 1
    oos_ok = sum(not first[i][1] for i in oos)
    return {
        "in_scope": len(inscope),
        "out_of_scope": len(oos),
        "answered_right": _ratio(strict, len(inscope)),
        "right_with_one_click": _ratio(strict + len(by_menu - {i for i in inscope if first[i][0]}), len(inscope)),
        "per_lang": {lang: f"{a}/{n}" for lang, (a, n) in sorted(per_lang.items())},
        "oos_recall": _ratio(oos_ok, len(oos)),
        "end_to_end": _ratio(strict + oos_ok, len(items)),
    }


def _position(out: dict[str, Any], payload: str) -> int:
    """The number a user types to pick `payload` from the choices shown last."""
    payloads = []
    for part in out["parts"]:
        payloads += [c["payload"] for c in part["options"]] if part["type"] == "Choices" else list(part.get("payloads") or ())
    return payloads.index(payload) + 1


# -- the caption check --------------------------------------------------------------------------------

# Field names a caption evaluation row may use for what must and must not be flagged (written by different hands).
_MUST = ("must", "must_flags", "flags_must", "must_report", "expected_flags", "flags")
_MUST_NOT = ("must_not", "must_not_flags", "flags_must_not", "must_not_report", "not_flags", "forbidden_flags")


def caption_expectation(row: dict[str, Any], flags: Iterable[str]) -> tuple[str | None, set[str], set[str]] | None:
    """(verdict, must, must_not) of an evaluation row; `must_not` is every other flag when only exact flags are given.
    None when the row says no verdict."""
    expected = {**row, **(row.get("expected") if isinstance(row.get("expected"), dict) else {})}
    verdict = expected.get("verdict") or expected.get("expected_verdict")
    if verdict not in ("ok", "fix", "not_allowed"):
        return None
    must = set(next((expected[k] for k in _MUST if isinstance(expected.get(k), list)), []))
    must_not = next((set(expected[k]) for k in _MUST_NOT if isinstance(expected.get(k), list)), None)
    if must_not is None:
        must_not = set(flags) - must
    return verdict, must, must_not


def caption_report(checker: Any, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Verdict accuracy, captions fully right (verdict, every must flag, no must-not flag), and per flag the precision
    and recall over the rows that say whether it must or must not be reported."""
    from bot.core.captions import FLAGS

    counts = {flag: [0, 0, 0] for flag in FLAGS}  # true positives, false positives, false negatives
    per_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    scored = verdicts = fully = 0
    for row in items:
        expected = caption_expectation(row, FLAGS)
        text = row.get("text", row.get("caption"))
        if expected is None or not isinstance(text, str):
            continue
        verdict, must, must_not = expected
        got = checker.check(text)
        flags = set(got.flags)
        scored += 1
        verdicts += got.verdict == verdict
        right = got.verdict == verdict and must <= flags and not flags & must_not
        fully += right
        per_lang[str(row.get("lang", "?"))][0] += right
        per_lang[str(row.get("lang", "?"))][1] += 1
        for flag in FLAGS:
            counts[flag][0] += flag in flags and flag in must
            counts[flag][1] += flag in flags and flag in must_not
            counts[flag][2] += flag not in flags and flag in must
    return {
        "size": len(items),
        "scored": scored,
        "verdict_accuracy": _ratio(verdicts, scored),
        "fully_right": _ratio(fully, scored),
        "per_lang": {lang: f"{a}/{n}" for lang, (a, n) in sorted(per_lang.items())},
        "per_flag": {
            flag: {"precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn), "positives": tp + fn}
            for flag, (tp, fp, fn) in counts.items()
        },
    }
