"""A status callback and the send's answer about one message, committing at the same time
(hardening, defect 9), forced into the interleaving that lost callbacks: the callbacks' transaction
has logged them and found no message yet, and stays open while every send's answer is recorded.
Nothing relies on timing: the test waits until each answer has finished or is blocked."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from schemas.messages import OutboundMessage, ProviderCallback
from services.delivery.callbacks import apply_statuses
from services.delivery.outbound import accept, record_sent
from services.delivery.providers import Accepted
from shared.db import Pool, create_pool
from shared.settings import Settings
from tests.conftest import eventually
from tests.support.messaging_helpers import a_client, store_with_channels

MESSAGES = 30


@pytest.fixture
async def wide_pool(settings: Settings, private_database: str) -> AsyncIterator[Pool]:
    """Room for every concurrent answer plus the test's own connections; no service runs on
    this database, so nothing but the test sends or records."""
    pool = await create_pool(settings.model_copy(update={
        "database_url": private_database, "db_pool_max_size": MESSAGES + 5}))
    yield pool
    await pool.close()


async def blocked_by(pool: Pool, pid: int) -> int:
    n: int = await pool.fetchval(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND $1 = ANY(pg_blocking_pids(pid))",
        pid)
    return n


@pytest.mark.parametrize("provider", ["sendblue", "resend"])
async def test_a_callback_committing_beside_the_send_answer_is_applied(
        wide_pool: Pool, provider: str) -> None:
    pool = wide_pool
    store, _, _ = await store_with_channels(pool)
    client = await a_client(pool, store.id)
    channel = "sms" if provider == "sendblue" else "email"
    messages = [OutboundMessage(message_id=uuid.uuid4(), store_id=store.id, client_id=client,
                                channel=channel, subject="s", text=f"race {i}")
                for i in range(MESSAGES)]
    await accept(pool, messages)
    pids = {m.message_id: str(uuid.uuid4()) for m in messages}
    now = datetime.now(UTC)
    callbacks = [ProviderCallback(
        provider=provider, callback_key=uuid.uuid4().hex, received_at=now,
        payload={"message_handle": pid, "status": "DELIVERED", "is_outbound": True}
        if provider == "sendblue" else {"type": "email.delivered", "data": {"email_id": pid}})
        for pid in pids.values()]

    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        counts = await apply_statuses(conn, callbacks)    # logged; no message known yet
        assert counts["unknown"] == MESSAGES
        answers = [asyncio.create_task(record_sent(
            pool, m.message_id, Accepted(provider, pids[m.message_id], "queued"), 1))
            for m in messages]

        async def each_finished_or_waiting() -> bool:
            done = sum(a.done() for a in answers)
            return done + await blocked_by(pool, conn.get_server_pid()) >= MESSAGES
        await eventually(each_finished_or_waiting, within=60)
        await tx.commit()
    await asyncio.gather(*answers)

    states = await pool.fetch("SELECT state FROM messages WHERE id = ANY($1::uuid[])",
                              list(pids))
    assert [r["state"] for r in states] == ["delivered"] * MESSAGES
    unmatched = await pool.fetchval("SELECT count(*) FROM message_callbacks "
                                    "WHERE provider_id = ANY($1::text[]) AND message_id IS NULL",
                                    list(pids.values()))
    assert unmatched == 0
