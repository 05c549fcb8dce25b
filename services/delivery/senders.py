"""The senders: claim due outbound messages and send them, each provider in its own lanes.

SMS: one lane per sending number, at most `sms_per_number_per_s` (SendBlue allows one message
a second per number), retries inside the lane. Email: one lane with bounded concurrency that
pauses when Resend's rate limit is spent (ratelimit-remaining 0, or a 429's retry-after). A
provider outage fills only its own lanes; a claim skips lanes already holding enough, so the
other provider's messages keep flowing. Claims are leases: a sender that dies leaves its
messages to fall due again.
"""

import asyncio
import time
from collections import Counter
from typing import Any

import aiohttp
import asyncpg
import structlog
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from services.delivery import sql
from services.delivery.errors import PermanentSendError, RetryableSendError
from services.delivery.outbound import record_failed, record_sent
from services.delivery.providers import Accepted
from services.delivery.resend import send_email
from services.delivery.sendblue import send_sms
from shared.db import Pool
from shared.outage import run_until_stopped
from shared.resources import Deps
from shared.settings import Settings
from shared.waiting import first_of, until_due

log = structlog.get_logger(__name__)
IDLE_POLL_S = 1.0
SMS_LANE_DEPTH = 4       # claimed messages per sending number held at once
EMAIL_LANE_DEPTH = 64
EMAIL_CONCURRENCY = 8


class Senders:
    def __init__(self, pool: Pool, settings: Settings, session: aiohttp.ClientSession) -> None:
        self.pool, self.settings, self.session = pool, settings, session
        self.held: Counter[str] = Counter()
        self.claimed: set[Any] = set()
        self.number_locks: dict[str, asyncio.Lock] = {}
        self.number_next: dict[str, float] = {}
        self.email_slots = asyncio.Semaphore(EMAIL_CONCURRENCY)
        self.email_paused_until = 0.0
        self.tasks: set[asyncio.Task[None]] = set()
        self.wake = asyncio.Event()
        self.room = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        listener = await asyncpg.connect(self.settings.database_url)
        try:
            await listener.add_listener(sql.WAKE_CHANNEL, lambda *_: self.wake.set())
            while not stop.is_set():
                self.wake.clear()
                self.room.clear()
                full = [lane for lane, n in self.held.items()
                        if n >= (EMAIL_LANE_DEPTH if lane == "email" else SMS_LANE_DEPTH)]
                rows = await self.pool.fetch(sql.CLAIM_SENDS, self.settings.send_claim_batch,
                                             full, self.settings.send_lease_s)
                for r in rows:
                    self._start(dict(r))
                if len(rows) < self.settings.send_claim_batch:
                    due = await until_due(self.pool, sql.NEXT_SEND, IDLE_POLL_S)
                    await first_of(stop, self.wake, self.room, within=due)
        finally:
            for t in list(self.tasks):
                t.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            if self.claimed:
                await self.pool.execute(sql.RELEASE_SENDS, list(self.claimed))
            await listener.close()

    def _start(self, m: dict[str, Any]) -> None:
        lane = f"sms:{m['from_addr']}" if m["channel"] == "sms" else "email"
        self.held[lane] += 1
        self.claimed.add(m["id"])

        async def go() -> None:
            try:
                await self._send(lane, m)
                self.claimed.discard(m["id"])
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
                # the outcome was not recorded: the lease runs out and the send is retried
                log.error("send outcome not recorded", message_id=str(m["id"]), error=repr(e))
            finally:
                self.held[lane] -= 1
                if self.held[lane] <= 0:
                    del self.held[lane]
                self.room.set()
        task = asyncio.create_task(go())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _send(self, lane: str, m: dict[str, Any]) -> None:
        tries = 0

        async def once() -> Accepted:
            nonlocal tries
            tries += 1
            if lane == "email":
                return await self._email_once(m)
            return await self._sms_once(m)

        log_ctx = {"message_id": str(m["id"]), "channel": m["channel"]}
        try:
            if lane == "email":
                accepted = await self._retrying(once)
            else:
                lock = self.number_locks.setdefault(lane, asyncio.Lock())
                async with lock:  # the number's lane: one at a time, paced
                    accepted = await self._retrying(once)
        except (RetryableSendError, PermanentSendError) as e:
            log.warning("message not sent", error=str(e), attempts=tries, **log_ctx)
            await record_failed(self.pool, m["id"], str(e), tries)
            return
        log.info("message sent", provider=accepted.provider, provider_id=accepted.provider_id,
                 attempts=tries, **log_ctx)
        await record_sent(self.pool, m["id"], accepted, tries)

    async def _retrying(self, once: Any) -> Accepted:
        s = self.settings
        # initial * 2^n plus up to `initial` of jitter, at most send_backoff_max_s
        backoff = wait_exponential_jitter(multiplier=s.send_backoff_initial_s,
                                          jitter=s.send_backoff_initial_s,
                                          max=s.send_backoff_max_s)

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            after = getattr(error, "retry_after", None)
            delay: float = backoff(state)
            return max(delay, min(float(after), s.send_backoff_max_s * 10)) if after else delay

        async for attempt in AsyncRetrying(
                stop=stop_after_attempt(s.send_max_attempts), wait=wait, reraise=True,
                retry=retry_if_exception_type(RetryableSendError)):
            with attempt:
                result: Accepted = await once()
                return result
        raise AssertionError("unreachable")  # reraise=True raises on the last attempt

    async def _sms_once(self, m: dict[str, Any]) -> Accepted:
        lane = m["from_addr"]
        wait = self.number_next.get(lane, 0.0) - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self.number_next[lane] = time.monotonic() + 1 / self.settings.sms_per_number_per_s
        return await send_sms(self.session, self.settings, message_id=m["id"],
                              to=m["to_addr"], from_number=m["from_addr"],
                              content=m["text"] or "")

    async def _email_once(self, m: dict[str, Any]) -> Accepted:
        async with self.email_slots:
            wait = self.email_paused_until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                accepted = await send_email(
                    self.session, self.settings, message_id=m["id"], to=m["to_addr"],
                    from_address=m["from_addr"], subject=m["subject"], html=m["html"],
                    text=m["text"])
            except RetryableSendError as e:
                if e.retry_after:  # the account's limit: every email waits
                    self._pause_email(e.retry_after)
                raise
        if accepted.pause_s:
            self._pause_email(accepted.pause_s)
        return accepted

    def _pause_email(self, seconds: float) -> None:
        self.email_paused_until = max(self.email_paused_until, time.monotonic() + seconds)


async def run_senders(deps: Deps, stop: asyncio.Event) -> None:
    timeout = aiohttp.ClientTimeout(total=deps.settings.provider_timeout_s)

    async def round_() -> None:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await Senders(deps.pool, deps.settings, session).run(stop)
    await run_until_stopped("senders", stop, round_,
                            (OSError, asyncpg.PostgresError, asyncpg.InterfaceError))
