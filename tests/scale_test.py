"""`make scale-test`: Telegram webhooks on N workers sharing one PostgreSQL, under load, with a worker killed.

Starts a throwaway PostgreSQL, the fake Bot API (tests/fake_bot_api.py) and `influbot run telegram --webhook
--workers 3`, then posts 10,000 updates from 500 users the way Telegram does: a user's next update only after
the previous one was answered 200, and the same update again when the answer is not 200 (or the connection
breaks). One worker is SIGKILLed in the middle (uvicorn starts a new one). Every update is then checked
against the replies the fake received: each update asks for a different FAQ answer, so each reply says which
update it answers. Prints one JSON line, then msgs/s for 1, 2 and 4 workers (a smaller load, no kills).

Options: --updates N --users N --workers N --scaling 1,2,4 --scaling-updates N (env INFLUBOT_SCALE_* too).
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.storage import open_storage  # noqa: E402
from bot.storage.local_pg import LocalPostgres, free_port  # noqa: E402
from tests.fake_bot_api import FakeBotApi, callback_update, text_update  # noqa: E402

SECRET = "scale-test-secret"
TABLES = "users, safety_events, inbound_seen, cases, case_messages, outbox, blocks, mod_threads, moderators, web_sessions, audit_log, daily_counts"


def faq_updates() -> tuple[list[tuple[str | None, str]], dict[str, str]]:
    """Per FAQ: its question if the bot understands it as that FAQ (else None) and its id; and the start of each
    answer as Telegram receives it -> FAQ id."""
    from bot.core.types import Inbound, State
    from bot.service import build_engine

    engine = build_engine(seed=1)
    kinds, signature = [], {}
    for faq_id, entry in engine.content.faq.items():
        parts, _ = engine.handle(Inbound(user="console:scale", kind="choice", payload=f"faq:{faq_id}"), State(greeted=True))
        signature[parts[0].text[:80]] = faq_id
        question = entry.question.get("nl", "")
        understood, _ = engine.handle(Inbound(user="console:scale", text=question), State(greeted=True))
        kinds.append((question if question and getattr(understood[0], "faq_id", None) == faq_id else None, faq_id))
    assert len(signature) == len(kinds), "two FAQ answers start alike: the reply would not say which update it answers"
    return kinds, signature


def plan(users: int, per_user: int, kinds: list[tuple[str | None, str]], seed: int = 7) -> dict[int, list[dict[str, Any]]]:
    """Each user asks `per_user` different FAQs: two in three as a text message, the rest with the FAQ button
    (a callback query), so both update types are redelivered and deduplicated."""
    rng = random.Random(seed)
    updates, next_id = {}, 1
    for u in range(users):
        uid = 10_000 + u
        mine = []
        for k in rng.sample(range(len(kinds)), per_user):
            question, faq_id = kinds[k]
            if question and rng.random() < 2 / 3:
                raw = text_update(next_id, question, uid=uid)
            else:
                raw = callback_update(next_id, f"faq:{faq_id}", uid=uid)
            mine.append({"raw": raw, "faq": faq_id})
            next_id += 1
        updates[uid] = mine
    return updates


class Poster:
    """Posts each user's updates in order, the next after a 200; anything else is sent again."""

    def __init__(self, url: str, connections: int = 40):  # Telegram: setWebhook max_connections defaults to 40
        self.url = url
        self.sem = asyncio.Semaphore(connections)
        self.latencies: list[float] = []
        self.redelivered = 0
        self.answered = 0

    async def user(self, client: httpx.AsyncClient, updates: list[dict[str, Any]]) -> None:
        for item in updates:
            while True:
                async with self.sem:
                    start = time.perf_counter()
                    try:
                        r = await client.post(self.url, json=item["raw"], headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
                        ok = r.status_code == 200
                    except httpx.HTTPError:
                        ok = False
                if ok:
                    self.latencies.append(time.perf_counter() - start)
                    self.answered += 1
                    break
                self.redelivered += 1
                await asyncio.sleep(0.2)

    async def run(self, plan: dict[int, list[dict[str, Any]]], on_progress: Any = None) -> None:
        limits = httpx.Limits(max_connections=128, max_keepalive_connections=128)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:
            tasks = [asyncio.create_task(self.user(client, ups)) for ups in plan.values()]
            if on_progress:
                tasks.append(asyncio.create_task(on_progress(self)))
            await asyncio.gather(*tasks[: len(plan)])
            for t in tasks[len(plan) :]:
                t.cancel()


def workers_of(pid: int) -> list[int]:
    """The worker processes of uvicorn's supervisor (with one worker, uvicorn serves in its own process)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmd = Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace")
            if "resource_tracker" not in cmd:
                found.append(int(child))
    return found or [pid]


def start_workers(n: int, db: str, api: FakeBotApi, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": "123456:SCALE-not-real",
        "TELEGRAM_API_BASE_URL": api.url,
        "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram",
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "INFLUBOT_DB": db,
        "INFLUBOT_FLOOD_MESSAGES": "100000",
        "INFLUBOT_TELEGRAM_RATE_LIMIT": "0",
        "INFLUBOT_OUTBOX_LEASE_SECONDS": "5",
    }
    for k in ("DISCORD_BOT_TOKEN", "TELEGRAM_MOD_CHAT_ID"):
        env.pop(k, None)
    cmd = [
        sys.executable,
        "-m",
        "bot",
        "run",
        "telegram",
        "--webhook",
        "--workers",
        str(n),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200 and len(workers_of(proc.pid)) >= n:
                time.sleep(2.0)  # let every worker finish its start-up
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("webhook workers did not start")


def check(plan: dict[int, list[dict[str, Any]]], api: FakeBotApi, signature: dict[str, str]) -> dict[str, int]:
    """Per update: how often its answer reached its user; per user: whether answers came in update order."""
    lost = duplicates = once = out_of_order = 0
    for uid, updates in plan.items():
        wanted = [item["faq"] for item in updates]
        arrivals = []
        for text in api.texts(uid):
            start = html.unescape(text)[:80]
            if start in signature:
                arrivals.append(signature[start])
        first_seen = {}
        for pos, faq in enumerate(arrivals):
            first_seen.setdefault(faq, pos)
        for faq in wanted:
            n = arrivals.count(faq)
            lost += n == 0
            once += n == 1
            duplicates += max(0, n - 1)
        order = [first_seen[f] for f in wanted if f in first_seen]
        out_of_order += sum(1 for a, b in zip(order, order[1:], strict=False) if b < a)
    return {"answered_once": once, "lost": lost, "duplicates": duplicates, "out_of_order": out_of_order}


def reset(db: str) -> None:
    store = open_storage(db)
    store.db.run(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    store.close()


def drain(api: FakeBotApi, expected: int, signature: dict[str, str], timeout: float = 60) -> float:
    """Wait until the fake has at least `expected` FAQ replies; returns when the last one came."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with api.lock:
            got = sum(1 for msgs in api.sent.values() for p in msgs if html.unescape(p.get("text", ""))[:80] in signature)
        if got >= expected:
            return time.time()
        time.sleep(0.2)
    return time.time()


async def load(
    n_workers: int, db: str, updates: dict[int, list[dict[str, Any]]], signature: dict[str, str], kill_at: float | None
) -> dict[str, Any]:
    api = FakeBotApi().start()
    port = free_port()
    proc = start_workers(n_workers, db, api, port)
    kills = 0
    total = sum(len(v) for v in updates.values())
    try:

        async def killer(poster: Poster) -> None:
            nonlocal kills
            while kill_at is not None and kills == 0:
                if poster.answered >= total * kill_at:
                    victim = workers_of(proc.pid)[0]
                    os.kill(victim, signal.SIGKILL)
                    kills += 1
                    print(f"SIGKILL worker {victim} after {poster.answered} updates", file=sys.stderr)
                await asyncio.sleep(0.05)

        poster = Poster(f"http://127.0.0.1:{port}/telegram")
        started = time.time()
        await poster.run(updates, killer)
        finished = drain(api, total, signature)
        alive = len(workers_of(proc.pid))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        api.stop()
    lat = sorted(poster.latencies)
    return {
        "api": api,
        "kills": kills,
        "alive": alive,
        "redelivered": poster.redelivered,
        "msgs_per_s": round(total / (finished - started), 1),
        "p99_ms": round(lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1000, 1) if lat else None,
    }


def main() -> int:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=int(env("INFLUBOT_SCALE_UPDATES", 10_000)))
    parser.add_argument("--users", type=int, default=int(env("INFLUBOT_SCALE_USERS", 500)))
    parser.add_argument("--workers", type=int, default=int(env("INFLUBOT_SCALE_WORKERS", 3)))
    parser.add_argument("--scaling", default=env("INFLUBOT_SCALE_SCALING", "1,2,4"))
    parser.add_argument("--scaling-updates", type=int, default=int(env("INFLUBOT_SCALE_SCALING_UPDATES", 3000)))
    args = parser.parse_args()
    kinds, signature = faq_updates()
    print(
        file=sys.stderr,
    )
    per_user = args.updates // args.users
    assert per_user <= len(kinds), f"at most {len(kinds)} distinct updates per user"
    with LocalPostgres(fast=os.environ.get("INFLUBOT_SCALE_FAST_PG") == "1", max_connections=300) as pg:
        open_storage(pg.url).close()  # migrate
        updates = plan(args.users, per_user, kinds)
        run = asyncio.run(load(args.workers, pg.url, updates, signature, kill_at=0.4))
        result = {
            "updates": args.users * per_user,
            **check(updates, run["api"], signature),
            "workers": args.workers,
            "kills": run["kills"],
            "msgs_per_s": run["msgs_per_s"],
            "p99_ms": run["p99_ms"],
        }
        print(json.dumps(result), flush=True)
        print(f"redelivered by the fake: {run['redelivered']}; workers alive at the end: {run['alive']}", file=sys.stderr)
        scaling = {}
        for n in [int(x) for x in args.scaling.split(",") if x.strip()]:
            reset(pg.url)
            users = max(1, args.scaling_updates // per_user)
            small = plan(users, per_user, kinds, seed=n)
            r = asyncio.run(load(n, pg.url, small, signature, kill_at=None))
            scaling[str(n)] = {"msgs_per_s": r["msgs_per_s"], "p99_ms": r["p99_ms"], **check(small, r["api"], signature)}
        if scaling:
            print(json.dumps({"scaling": scaling, "updates_each": users * per_user, "cpus": os.cpu_count()}), flush=True)
    ok = result["lost"] == 0 and result["out_of_order"] == 0 and result["duplicates"] <= result["kills"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
