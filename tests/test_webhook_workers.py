"""`influbot run telegram --webhook --workers 2` on PostgreSQL, as real processes, with a worker SIGKILLed:
the small version of `make scale-test` (which runs 10,000 updates)."""

from __future__ import annotations

import asyncio

from tests import scale_test


def test_two_webhook_workers_lose_nothing_when_one_is_killed(postgres, db_url_postgres):
    kinds, signature = scale_test.faq_updates()
    updates = scale_test.plan(users=30, per_user=12, kinds=kinds)
    run = asyncio.run(scale_test.load(2, db_url_postgres, updates, signature, kill_at=0.3))
    result = scale_test.check(updates, run["api"], signature)
    total = sum(len(v) for v in updates.values())
    assert run["kills"] == 1 and run["alive"] == 2, run
    assert result["lost"] == 0 and result["out_of_order"] == 0 and result["duplicates"] <= run["kills"], result
    assert result["answered_once"] >= total - run["kills"]
