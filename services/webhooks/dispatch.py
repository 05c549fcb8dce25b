"""The dispatcher: claims due deliveries, POSTs them concurrently, settles the outcomes.

Isolation: each endpoint has its own concurrency limit, and a claim skips endpoints of which
this dispatcher already holds its share, so a slow, failing or dead endpoint occupies only its
own slots while every other endpoint's deliveries keep flowing. Durability: every scheduled
retry is a row (state pending, next_attempt_at); a claim is a lease, so deliveries held by a
dispatcher that died fall due again. Several dispatchers may run (SKIP LOCKED).
"""

import asyncio
import contextlib
from collections import Counter

import aiohttp
import asyncpg
import structlog

from services.webhooks import sql
from services.webhooks.guard import Network, networks
from services.webhooks.http import Attempt, create_session, post
from services.webhooks.logic import Claimed, settle
from shared.db import Pool
from shared.outage import run_until_stopped
from shared.resources import Deps
from shared.settings import Settings
from shared.waiting import first_of, until_due

log = structlog.get_logger(__name__)

SETTLE_EVERY_S = 0.05
IDLE_POLL_S = 1.0


class Dispatcher:
    def __init__(self, pool: Pool, settings: Settings, session: aiohttp.ClientSession,
                 allowed: tuple[Network, ...]) -> None:
        self.pool, self.settings, self.session, self.allowed = pool, settings, session, allowed
        self.max_held = settings.webhook_max_in_flight * 2
        self.endpoint_share = settings.webhook_max_per_endpoint * 2
        self.held: Counter[object] = Counter()       # claimed, attempt not over, per endpoint
        self.held_total = 0
        self.slots: dict[object, asyncio.Semaphore] = {}
        self.claimed: dict[int, Claimed] = {}        # claimed, not yet settled
        self.stopping = False
        self.done: list[tuple[Claimed, Attempt]] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.wake = asyncio.Event()      # NOTIFY: new deliveries
        self.room = asyncio.Event()      # finished attempts freed room to claim

    async def run(self, stop: asyncio.Event) -> None:
        listener = await asyncpg.connect(self.settings.database_url)
        settler = asyncio.create_task(self._settle_loop())
        try:
            await listener.add_listener(sql.WAKE_CHANNEL, lambda *_: self.wake.set())
            log.info("webhook dispatcher started")
            while not stop.is_set():
                self.wake.clear()
                self.room.clear()
                wanted = min(self.settings.webhook_claim_batch,
                             self.max_held - self.held_total)
                if wanted <= 0:
                    await first_of(stop, self.room, within=IDLE_POLL_S)
                    continue
                got = await self._claim(wanted)
                if got == 0:  # nothing due, or only for endpoints with full shares
                    due = await until_due(self.pool, sql.NEXT_DUE, IDLE_POLL_S)
                    await first_of(stop, self.wake, self.room, within=due)
                elif got < wanted:  # claimed all that was due: more comes with a NOTIFY
                    await first_of(stop, self.wake, self.room, within=IDLE_POLL_S)
        finally:
            await self._drain()
            settler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await settler
            await self._settle_all()
            await self._release_unsettled()
            await listener.close()

    async def _claim(self, wanted: int) -> int:
        full = [e for e, n in self.held.items() if n >= self.endpoint_share]
        rows = await self.pool.fetch(sql.CLAIM, wanted, full, self.endpoint_share,
                                     self.settings.webhook_lease_s)
        for r in rows:
            secrets = [r["secret"]] + ([r["previous_secret"]] if r["previous_secret"] else [])
            c = Claimed(id=r["id"], endpoint_id=r["endpoint_id"], event_id=r["event_id"],
                        tries=r["tries"], url=r["url"], secrets=secrets, body=r["body"])
            self.claimed[c.id] = c
            self.held[c.endpoint_id] += 1
            self.held_total += 1
            task = asyncio.create_task(self._deliver(c))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return len(rows)

    async def _deliver(self, c: Claimed) -> None:
        slot = self.slots.setdefault(c.endpoint_id,
                                     asyncio.Semaphore(self.settings.webhook_max_per_endpoint))
        try:
            async with slot:
                if self.stopping:
                    return
                attempt = await post(self.session, self.allowed, c.url, c.event_id, c.body,
                                     c.secrets)
        finally:
            self.held[c.endpoint_id] -= 1
            self.held_total -= 1
            left = self.held[c.endpoint_id]
            if left <= 0:
                del self.held[c.endpoint_id]
                self.slots.pop(c.endpoint_id, None)
            # Room to claim when this endpoint's queue behind its slots has run dry, or half
            # of everything held is done: claims come in batches, not one per attempt (one
            # claim and one NEXT_DUE per finished attempt were half the database's time).
            if left <= self.settings.webhook_max_per_endpoint \
                    or self.held_total <= self.max_held // 2:
                self.room.set()
        log.debug("webhook attempt", delivery_id=c.id, endpoint_id=str(c.endpoint_id),
                  event_id=str(c.event_id), status=attempt.status_code,
                  latency_ms=round(attempt.latency_ms, 1), error=attempt.error)
        self.done.append((c, attempt))

    async def _settle_loop(self) -> None:
        while True:
            await asyncio.sleep(SETTLE_EVERY_S)
            try:
                await self._settle_all()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
                log.warning("could not record webhook attempts, retrying", error=repr(e))
                await asyncio.sleep(1.0)

    async def _settle_all(self) -> None:
        while self.done:
            batch, self.done = self.done[:1000], self.done[1000:]
            try:
                outcomes = await settle(self.pool, self.settings, batch)
            except BaseException:
                self.done = batch + self.done  # recorded nothing: keep them for the next try
                raise
            retries = [o.delay_s for o in outcomes if o.delay_s is not None]
            if retries:  # claim again when the earliest retry falls due
                asyncio.get_running_loop().call_later(min(retries), self.wake.set)
            for c, _ in batch:
                self.claimed.pop(c.id, None)

    async def _drain(self) -> None:
        """Stopping: attempts under way may finish (up to the graceful timeout); deliveries
        still waiting for a slot are not started."""
        self.stopping = True
        tasks = list(self.tasks)
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=self.settings.graceful_timeout_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def _release_unsettled(self) -> None:
        """Claimed but not attempted (or cut off): due again at once for whoever runs next."""
        if self.claimed:
            await self.pool.execute(sql.RELEASE, list(self.claimed))


async def run_dispatcher(deps: Deps, stop: asyncio.Event) -> None:
    """Until `stop`, surviving database outages (unsettled claims fall due again)."""
    allowed = networks(deps.settings.webhook_allowed_networks)

    async def round_() -> None:
        async with create_session(deps.settings, allowed) as session:
            await Dispatcher(deps.pool, deps.settings, session, allowed).run(stop)
    await run_until_stopped("webhook dispatcher", stop, round_,
                            (OSError, asyncpg.PostgresError, asyncpg.InterfaceError))
