"""PostgreSQL NOTIFY: wakes whoever LISTENs on a channel once the sender commits (the relay on
new outbox rows, the senders on due messages, the dispatcher on due deliveries, the edge's
waiting requests on recorded results)."""

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import asyncpg
import structlog

from shared.db import Connection, Pool

log = structlog.get_logger(__name__)

NOTIFY = "SELECT pg_notify($1, '')"

# Channels one service notifies and another listens on (each service's own wake-up channels
# live in its sql module). Each is notified at the commit of the transaction that records the
# answers to requests the edge is waiting for.
TOUCHES_RECORDED = "touches_recorded"      # the resolver: touches (Integration API upserts)
COMMANDS_RECORDED = "commands_recorded"    # the commands service: client_commands results
ATTESTATIONS_RECORDED = "attestations_recorded"  # the attestations service


async def notify(conn: Connection, channel: str) -> None:
    """Delivered at commit (and not at all on rollback), to every listener of `channel`."""
    await conn.execute(NOTIFY, channel)


Callback = Callable[[], None]
Fetch = Callable[[list[Any]], Awaitable[dict[Any, Any]]]


def rows_by_key(pool: Pool, query: str) -> Fetch:
    """The `fetch` of a `query` that takes one array per key column ($1, $2, …) and selects the
    key columns first: {key: row} for the keys asked."""
    async def fetch(keys: list[Any]) -> dict[Any, Any]:
        width = len(keys[0])
        rows = await pool.fetch(query, *([k[i] for k in keys] for i in range(width)))
        return {tuple(r[:width]): r for r in rows}
    return fetch


class _Expected:
    """Callers of one channel waiting for rows by key: a notification runs one `fetch` for
    every key still waited on (and runs it again if another came meanwhile)."""

    def __init__(self, fetch: Fetch) -> None:
        self.fetch = fetch
        self.futures: dict[Hashable, list[asyncio.Future[Any]]] = {}
        self.looking: asyncio.Task[None] | None = None
        self.again = False

    def wake(self) -> None:
        if self.looking is not None and not self.looking.done():
            self.again = True
        else:
            self.looking = asyncio.create_task(self._look())

    async def _look(self) -> None:
        while True:
            self.again = False
            if self.futures:
                try:
                    found = await self.fetch(list(self.futures))
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
                    log.warning("looking for awaited rows failed", error=repr(e))
                    found = {}
                for key, value in found.items():
                    for future in self.futures.pop(key, []):
                        if not future.done():
                            future.set_result(value)
            if not self.again:
                return


class Listener:
    """The process's one LISTEN connection, opened by the first `listen()`, closed by `close()`.

    A callback runs in the event loop for every notification on its channel. Should the
    connection drop, every callback runs once (what it waits for may have been missed) and the
    next `listen()` connects again."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.conn: asyncpg.Connection[asyncpg.Record] | None = None
        self.callbacks: dict[str, list[Callback]] = {}
        self.expected: dict[str, _Expected] = {}
        self.lock = asyncio.Lock()

    async def wait_for(self, channel: str, fetch: Fetch, key: Hashable,
                       start: Callable[[], Awaitable[object]], within: float) -> Any | None:
        """`start()` (e.g. publish a command), then wait for the row that answers it, without
        polling: the transaction that writes it notifies `channel` (whatever it did, so a
        repeated request is answered too), and `fetch(keys)` -> {key: row} is asked once per
        notification for all the keys awaited on the channel. None after `within` seconds.
        (The first `fetch` given for a channel is the one used for it.)"""
        expected = self.expected.setdefault(channel, _Expected(fetch))
        await self.listen(channel, expected.wake)
        future = asyncio.get_running_loop().create_future()
        expected.futures.setdefault(key, []).append(future)  # before start(): nothing missed
        try:
            await start()
            return await asyncio.wait_for(future, within)
        except TimeoutError:
            return None
        finally:
            waiting = expected.futures.get(key, [])
            if future in waiting:
                waiting.remove(future)
                if not waiting:
                    del expected.futures[key]

    async def listen(self, channel: str, callback: Callback) -> None:
        """Run `callback` on each notification of `channel` from now on (once per callback)."""
        async with self.lock:
            if self.conn is None or self.conn.is_closed():
                self.conn = await asyncpg.connect(
                    self.dsn, server_settings={"application_name": "clients-listener"})
                self.conn.add_termination_listener(self._lost)
                for known in self.callbacks:
                    await self.conn.add_listener(known, self._deliver)
            if channel not in self.callbacks:
                await self.conn.add_listener(channel, self._deliver)
            callbacks = self.callbacks.setdefault(channel, [])
            if callback not in callbacks:
                callbacks.append(callback)

    def _deliver(self, _conn: object, _pid: int, channel: str, _payload: object) -> None:
        for callback in self.callbacks.get(channel, []):
            callback()

    def _lost(self, _conn: object) -> None:
        log.warning("the LISTEN connection was lost: listeners re-check")
        self.conn = None
        for callbacks in self.callbacks.values():
            for callback in callbacks:
                callback()

    async def close(self) -> None:
        if self.conn is not None:
            conn, self.conn = self.conn, None
            conn.remove_termination_listener(self._lost)
            await conn.close()
