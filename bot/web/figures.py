"""The desk's figures: aggregates only (counts and durations, never a message text), and SVG bar charts of them."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from markupsafe import Markup, escape

from bot.storage.base import Row, Storage

DAYS = 14
WEEKS = 8
DAY = 86400.0


def day_of(at: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(at))


def week_of(at: float) -> str:
    return time.strftime("%G-W%V", time.gmtime(at))


@dataclass
class Report:
    days: list[str]
    cases_per_day: list[tuple[str, int]]
    unplaced_per_day: list[tuple[str, int]]
    weeks: list[str]
    safety: dict[str, list[int]]  # topic -> counts per week
    first_reply_minutes: float | None
    close_minutes: float | None
    open_now: int
    overdue_now: int
    answered: int = 0
    closed: int = 0


def _median_minutes(values: list[float]) -> float | None:
    return round(statistics.median(values) / 60, 1) if values else None


def build(store: Storage, open_rows: list[Row], now: float) -> Report:
    days = [day_of(now - (DAYS - 1 - i) * DAY) for i in range(DAYS)]
    weeks = sorted({week_of(now - i * 7 * DAY) for i in range(WEEKS)})
    cases = store.figures.case_times(now - DAYS * DAY)
    per_day = dict.fromkeys(days, 0)
    for c in cases:
        day = day_of(c["created"])
        if day in per_day:
            per_day[day] += 1
    first = [c["first_reply"] - c["created"] for c in cases if c["first_reply"] is not None]
    closes = [c["closed"] - c["created"] for c in cases if c["closed"] is not None]
    unplaced = {r["day"]: int(r["n"]) for r in store.figures.counts("faq_unplaced", days[0])}
    safety: dict[str, list[int]] = {}
    for event in store.figures.safety_times(now - WEEKS * 7 * DAY):
        week = week_of(event["at"])
        if week in weeks:
            safety.setdefault(event["topic"], [0] * len(weeks))[weeks.index(week)] += 1
    return Report(
        days=days,
        cases_per_day=list(per_day.items()),
        unplaced_per_day=[(d, unplaced.get(d, 0)) for d in days],
        weeks=weeks,
        safety=dict(sorted(safety.items())),
        first_reply_minutes=_median_minutes(first),
        close_minutes=_median_minutes(closes),
        open_now=sum(1 for r in open_rows if r["status"] != "closed"),
        overdue_now=sum(1 for r in open_rows if r.get("overdue")),
        answered=len(first),
        closed=len(closes),
    )


def bar_chart(values: list[tuple[str, int]], label: str, width: int = 560, height: int = 180) -> Markup:
    """A plain SVG bar chart; the labels are dates or topic names, escaped all the same."""
    top = max((n for _, n in values), default=0) or 1
    pad, base = 28, height - 34
    step = (width - pad) / max(len(values), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(label)}">',
        f'<line x1="{pad}" y1="{base}" x2="{width}" y2="{base}" stroke="#888"/>',
        f'<text x="2" y="12" font-size="10" fill="#555">{top}</text>',
    ]
    for i, (name, n) in enumerate(values):
        h = (base - 16) * n / top
        x = pad + i * step + step * 0.15
        parts.append(
            f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" fill="#2f6f9f">'
            f"<title>{escape(name)}: {n}</title></rect>"
        )
        if n:
            parts.append(f'<text x="{x + step * 0.35:.1f}" y="{base - h - 3:.1f}" font-size="10" text-anchor="middle">{n}</text>')
        if len(values) <= 8 or i % 2 == 0:
            short = name[5:] if len(name) == 10 else name  # 2026-12-02 -> 12-02
            parts.append(
                f'<text x="{x + step * 0.35:.1f}" y="{base + 14}" font-size="10" text-anchor="middle" fill="#333">{escape(short)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def charts(report: Report) -> dict[str, Markup]:
    weekly = [(w, sum(counts[i] for counts in report.safety.values())) for i, w in enumerate(report.weeks)]
    return {
        "cases": bar_chart(report.cases_per_day, "cases per day"),
        "unplaced": bar_chart(report.unplaced_per_day, "questions not placed per day"),
        "safety": bar_chart(weekly, "safety referrals per week"),
    }
