"""The storage protocols on SQLite and on a real PostgreSQL (started by the tests on 127.0.0.1)."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import sqlite_utils

from bot.core.types import State
from bot.storage import open_storage
from bot.storage.base import MAX_ATTEMPTS
from tests.conftest import TABLES


@pytest.fixture
def store(db_url, clock):
    s = open_storage(db_url, clock=clock)
    yield s
    s.close()


def test_state_round_trip_and_version(store):
    assert store.users.get("tg:1") == State() and store.users.version("tg:1") == 0
    store.users.put("tg:1", State(lang="fr", best={"1": 80}))
    store.users.put("tg:1", State(lang="en", best={"1": 90}))
    got = store.users.get("tg:1")
    assert (got.lang, got.best, store.users.version("tg:1")) == ("en", {"1": 90}, 2)


def test_the_database_allows_one_open_case_per_user(store):
    first, created = store.cases.open("tg:1", "telegram", "a", 0, ["x"], "Anna")
    again, created_again = store.cases.open("tg:1", "telegram", "b", 2, ["y"], "Anna")
    assert created and not created_again and first == again
    case = store.cases.get(first)
    assert case["priority"] == 2 and case["tags"] == ["x", "y"]
    with pytest.raises((sqlite3.IntegrityError, psycopg.errors.UniqueViolation)):  # even around the store
        store.db.run(
            "INSERT INTO cases (\"user\", channel, status, priority, tags, created) VALUES (?, 'telegram', 'waiting', 0, ?, ?)",
            ("tg:1", store.db.js([]), store.db.ts(1.0)),
        )
    store.cases.update(first, status="closed", closed=store.clock())
    second, created = store.cases.open("tg:1", "telegram", "c", 0, [], "Anna")
    assert created and second != first


def test_claim_release_one_winner(store):
    case_id, _ = store.cases.open("tg:1", "telegram", "a", 0, [], "Anna")
    with ThreadPoolExecutor(8) as pool:
        wins = list(pool.map(lambda m: store.cases.claim(case_id, m), [f"console:m{i}" for i in range(8)]))
    assert sum(wins) == 1
    holder = store.cases.get(case_id)["claimed_by"]
    assert not store.cases.release(case_id, "console:someone-else")
    assert store.cases.release(case_id, holder) and store.cases.get(case_id)["status"] == "waiting"


def test_outbox_lease_is_fifo_per_target_and_expires(store, clock):
    a = [store.outbox.enqueue("telegram", "tg:a", {"n": i}) for i in range(3)]
    b = store.outbox.enqueue("telegram", "tg:b", {"n": 0})
    first = store.outbox.lease("telegram", seconds=30)
    assert [r["id"] for r in first] == [a[0], b], "only the head of each target's queue"
    assert store.outbox.lease("telegram") == [], "a leased head holds its queue"
    store.outbox.sent(a[0])
    assert [r["id"] for r in store.outbox.lease("telegram", seconds=30)] == [a[1]]
    clock.advance(31)  # the process holding a[1] died: its lease runs out and the row is due again
    again = store.outbox.lease("telegram", target="tg:a")
    assert [r["id"] for r in again] == [a[1]]
    assert [r["id"] for r in store.outbox.lease("telegram", target="tg:b")] == [b]


def test_outbox_permanent_error_is_dead_at_once_and_noted_on_the_case(store):
    case_id, _ = store.cases.open("tg:1", "telegram", "a", 0, [], "Anna")
    row = store.outbox.enqueue("telegram", "tg:1", {"text": "hoi"}, case_id)
    store.outbox.lease("telegram")
    assert store.outbox.failed(row, "Forbidden: bot was blocked by the user", permanent=True)
    assert [r["id"] for r in store.outbox.dead()] == [row]
    assert "could not deliver" in store.cases.messages(case_id)[-1]["text"]


def test_outbox_backoff_grows_with_jitter(store, clock):
    row = store.outbox.enqueue("telegram", "tg:1", {"text": "hoi"})
    store.outbox.rng = random.Random(7)
    delays = []
    for _ in range(1, MAX_ATTEMPTS):
        assert not store.outbox.failed(row, "timeout", retry_in=1.0)
        delays.append(store.outbox.get(row)["next_at"] - clock())
        assert store.outbox.lease("telegram") == [], "not due before its retry time"
        clock.advance(delays[-1] + 0.01)
        assert [r["id"] for r in store.outbox.lease("telegram")] == [row]
    assert all(0.5 * 2**i <= d <= 1.5 * 2**i for i, d in enumerate(delays)), delays
    assert store.outbox.failed(row, "timeout") and store.outbox.get(row)["status"] == "dead"


def test_many_threads_relay_each_row_once_in_order(store):
    """8 threads lease and send 400 rows for 20 targets at once: every row once, each target in order."""
    targets = [f"tg:{i}" for i in range(20)]
    ids = {t: [] for t in targets}
    for n in range(20):
        for t in targets:
            ids[t].append(store.outbox.enqueue("telegram", t, {"n": n}))
    delivered: dict[str, list[int]] = defaultdict(list)
    lock = threading.Lock()

    def worker() -> None:
        idle = 0
        while idle < 20:
            rows = store.outbox.lease("telegram", limit=5)
            if not rows:
                idle += 1
                continue
            idle = 0
            for row in rows:
                with lock:
                    delivered[row["target"]].append(row["id"])
                store.outbox.sent(row["id"])

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert {t: delivered[t] for t in targets} == ids


def test_dedup_is_part_of_the_transaction(store):
    with pytest.raises(RuntimeError), store.locked("tg:1"):
        assert not store.dedup.seen("tg:1", "u1")
        raise RuntimeError("crash before commit")
    assert not store.dedup.seen("tg:1", "u1"), "rolled back: the redelivered update is handled"
    assert store.dedup.seen("tg:1", "u1")


def test_threads_map_both_ways(store):
    case_id, _ = store.cases.open("dc:1", "discord", "a", 0, [], "B")
    store.threads.save(case_id, "telegram", "77")
    store.threads.save(case_id, "discord", "900")
    assert store.threads.ref(case_id, "telegram") == "77" and store.threads.case("discord", "900") == case_id
    assert store.threads.case("telegram", "900") is None


def test_forget_deletes_every_row_with_the_users_text(any_service):
    """Case texts, moderator-surface copies (pending and dead), transcripts, state: nothing with the marker left."""
    service = any_service
    service.desk.surfaces = ("mod:telegram", "mod:discord")
    user, marker = "tg:9", "GEHEIM-contract-7731"
    case_id = service.desk.open_case(user, "telegram", "contract", text=f"mijn {marker} vraag")
    service.desk.add_message(case_id, "user", "Anna", f"nog eens {marker}")
    service.desk.reply("console:mod", case_id, f"over je {marker}")
    dead = service.store.outbox.lease("mod:discord")[0]["id"]
    service.store.outbox.failed(dead, "Forbidden", permanent=True)
    service.store.safety.record(user, "suicide", "acute", "telegram")
    other = service.desk.open_case("tg:10", "telegram", "ander", text="iets anders")
    assert _rows_with(service.store, marker), "the marker is stored before /vergeet"
    service.store.forget(user)
    assert _rows_with(service.store, marker) == []
    assert service.store.safety.events(user) == [] and service.store.users.version(user) == 0
    assert service.store.cases.get(other) is not None, "other users keep their cases"


def _rows_with(store, marker: str) -> list[tuple[str, dict]]:
    tables = ("users", "safety_events", "inbound_seen", "cases", "case_messages", "outbox", "blocks", "mod_threads")
    return [(t, r) for t in tables for r in store.db.rows(f"SELECT * FROM {t}") if marker in str(r)]


def test_purge_removes_old_cases_and_stale_pending_and_dead_rows(any_service, clock):
    service = any_service
    service.desk.surfaces = ("mod:telegram",)
    old = service.desk.open_case("tg:1", "telegram", "a", text="oud")
    service.desk.close("console:mod", old)
    recent = service.desk.open_case("tg:2", "telegram", "b", text="recent")
    service.desk.close("console:mod", recent)
    clock.advance(2 * 86400)
    kept = service.desk.open_case("tg:2", "telegram", "c", text="open")
    clock.advance(29 * 86400)  # both closed cases are now 31 days old; the open one stays
    assert service.desk.purge(30) == 2
    assert service.store.cases.get(old) is None and service.store.cases.get(kept) is not None
    assert all(r["case_id"] == kept for r in service.store.outbox.pending("mod:telegram"))


def test_purge_drops_pending_rows_of_a_case_closed_a_day_ago(any_service, clock):
    service = any_service
    service.desk.surfaces = ("mod:telegram",)
    case_id = service.desk.open_case("tg:1", "telegram", "a", text="hallo")
    service.desk.close("console:mod", case_id)
    service.desk.purge(30)
    assert service.desk.due("telegram", "tg:1"), "just closed: the closing notice still goes out"
    clock.advance(86400 + 1)
    service.desk.purge(30)
    assert service.store.outbox.pending("telegram") == [] and service.store.outbox.pending("mod:telegram") == []
    assert service.store.cases.get(case_id) is not None, "the transcript itself is kept for the retention period"


def test_migrations_run_once_even_from_two_processes(db_url):
    if not db_url.startswith("postgresql"):
        db_url = db_url.replace("test.db", "fresh.db")
    else:
        fresh = open_storage(db_url, migrate=False)
        fresh.db.run(f"DROP TABLE {TABLES} CASCADE")
        fresh.db.run("DROP TABLE schema_migrations")
        fresh.close()
    procs = [
        subprocess.Popen([sys.executable, "-m", "bot", "migrate", "--db", db_url], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0]
    assert sum("applied migration(s) 1, 2" in o for o in outputs) == 1, outputs
    assert sum("up to date" in o for o in outputs) == 2
    again = open_storage(db_url)
    assert again.migrate() == []
    again.close()


def test_a_database_from_influbot_0_1_is_upgraded(tmp_path):
    """The sqlite-utils tables and `meta` row of the first release become schema 1 with their rows."""
    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    db["meta"].insert({"key": "schema", "value": "1"}, pk="key")
    db["users"].insert({"user": "tg:1", "state": '{"lang": "fr", "greeted": true}', "updated": 1.0}, pk="user")
    db["cases"].insert_all(
        [
            {
                "id": 1,
                "user": "tg:1",
                "channel": "telegram",
                "status": "waiting",
                "topic": "a",
                "priority": 0,
                "tags": "[]",
                "created": 1.0,
            },
            {
                "id": 2,
                "user": "tg:1",
                "channel": "telegram",
                "status": "waiting",
                "topic": "b",
                "priority": 0,
                "tags": "[]",
                "created": 2.0,
            },
        ],
        pk="id",
    )
    db["case_messages"].insert({"id": 1, "case_id": 2, "author": "user", "name": "A", "text": "hoi", "at": 2.0}, pk="id")
    db["case_messages"].create_index(["case_id"])
    db.conn.close()
    store = open_storage(path)
    assert store.users.get("tg:1").lang == "fr"
    assert store.cases.open_for("tg:1")["id"] == 2 and store.cases.get(1)["status"] == "closed", "one open case kept"
    assert [m["text"] for m in store.cases.messages(2)] == ["hoi"]
    assert "meta" not in sqlite_utils.Database(path).table_names()
    store.close()


def test_sqlite_gives_every_thread_its_own_connection(tmp_path):
    store = open_storage(tmp_path / "t.db")
    seen = []

    def grab() -> None:
        store.users.get("x")
        seen.append(id(store.db._local.conn))

    threads = [threading.Thread(target=grab) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    grab()
    assert len(set(seen)) == 4
    store.close()


def test_a_reply_is_enqueued_leased_only_when_nothing_waits_before_it(store, clock):
    first = store.outbox.enqueue_leased("telegram", "tg:1", {"n": 1}, seconds=30)
    assert first is not None and first["status"] == "leased" and first["payload"] == {"n": 1}
    assert store.outbox.lease("telegram") == [], "the caller holds it: the relay does not send it too"
    second = store.outbox.enqueue_leased("telegram", "tg:1", {"n": 2}, seconds=30)
    assert second is None, "queued behind the first, so the relay keeps the order"
    assert store.outbox.enqueue_leased("telegram", "tg:2", {"n": 1}) is not None, "other targets are not held up"
    store.outbox.sent(first["id"])
    assert [r["payload"] for r in store.outbox.lease("telegram", target="tg:1")] == [{"n": 2}]
    clock.advance(31)
    assert [r["payload"] for r in store.outbox.lease("telegram", target="tg:2")] == [{"n": 1}], "a dead caller's lease runs out"


def test_an_outage_is_told_apart_from_a_bug(postgres):
    import psycopg

    from bot.storage import unavailable

    assert unavailable(sqlite3.OperationalError("database is locked"))
    assert unavailable(psycopg.OperationalError("connection refused"))
    assert unavailable(psycopg.errors.SerializationFailure("try again"))
    assert not unavailable(KeyError("a bug")) and not unavailable(psycopg.errors.UniqueViolation("a bug too"))
