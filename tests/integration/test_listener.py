"""The edge waits for recorded answers without polling: a NOTIFY at the writer's commit wakes
one look for every caller waiting on the channel; a lost LISTEN connection costs no answer."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from shared.db import Pool
from shared.notify import Listener, notify
from shared.settings import Settings
from tests.conftest import eventually


@pytest.fixture
async def listener(settings: Settings) -> AsyncIterator[Listener]:
    listener = Listener(settings.database_url)
    yield listener
    await listener.close()


class Rows:
    """What a writer committed, and how often the waiters looked."""

    def __init__(self) -> None:
        self.committed: dict[str, str] = {}
        self.looks = 0

    async def fetch(self, keys: list[Any]) -> dict[Any, Any]:
        self.looks += 1
        return {k: self.committed[k] for k in keys if k in self.committed}


async def nothing() -> None: ...


def waiting_on(listener: Listener, channel: str) -> set[Any]:
    expected = listener.expected.get(channel)
    return set(expected.futures) if expected else set()


async def test_one_notification_answers_every_waiting_caller(listener: Listener,
                                                             pool: Pool) -> None:
    channel, rows = f"test_{uuid.uuid4().hex}", Rows()
    waiting = [asyncio.create_task(listener.wait_for(channel, rows.fetch, k, nothing, 30))
               for k in ("a", "b", "c")]
    await eventually(lambda: waiting_on(listener, channel) == {"a", "b", "c"})
    assert rows.looks == 0  # nobody polls while nothing is committed
    rows.committed.update(a="A", b="B", c="C")
    async with pool.acquire() as conn:
        await notify(conn, channel)
    assert await asyncio.gather(*waiting) == ["A", "B", "C"]
    assert rows.looks == 1


async def test_an_answer_committed_while_the_connection_was_lost_still_arrives(
        listener: Listener, pool: Pool) -> None:
    channel, rows = f"test_{uuid.uuid4().hex}", Rows()
    waiting = asyncio.create_task(listener.wait_for(channel, rows.fetch, "k", nothing, 30))
    await eventually(lambda: waiting_on(listener, channel) == {"k"})
    assert listener.conn is not None
    pid = listener.conn.get_server_pid()
    rows.committed["k"] = "committed, never notified"  # the NOTIFY went to the lost connection
    await pool.execute("SELECT pg_terminate_backend($1)", pid)
    assert await waiting == "committed, never notified"

    # and the next caller listens on a new connection
    again = asyncio.create_task(listener.wait_for(channel, rows.fetch, "next", nothing, 30))
    await eventually(lambda: waiting_on(listener, channel) == {"next"})
    assert listener.conn is not None
    assert listener.conn.get_server_pid() != pid
    rows.committed["next"] = "notified"
    async with pool.acquire() as conn:
        await notify(conn, channel)
    assert await again == "notified"


async def test_no_answer_in_time_is_none_and_leaves_no_waiter(listener: Listener) -> None:
    channel, rows = f"test_{uuid.uuid4().hex}", Rows()
    assert await listener.wait_for(channel, rows.fetch, "k", nothing, 0.05) is None
    assert listener.expected[channel].futures == {}
