"""Surviving outages: back off while the database or the broker is down, say so once, recover.

Measured with bench/outage.py (a 20 s PostgreSQL outage under an `ingest upsert` worker fed 5
records/s): redelivering at once burned 97.9% of a core and wrote 146 lines (a traceback per
retry); with this backoff (0.1 s doubling to 5 s, with jitter) 0.6% and 2 lines: the first
failure with its error, then one line with the count when it is over (a summary every 30 s
while it lasts). The cost is at most 5 s more before the first batch after the restore.
"""

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

import structlog

from shared.waiting import first_of

log = structlog.get_logger(__name__)

INITIAL_S = 0.1
CAP_S = 5.0
SUMMARY_EVERY_S = 30.0
# A background round that has run this long since its last failure is taken as recovered.
RECOVERED_AFTER_S = 2.0


class Outage:
    """The state of one consumer's or loop's outage: how many failures since when."""

    def __init__(self, what: str, initial_s: float = INITIAL_S, cap_s: float = CAP_S) -> None:
        self.what, self.initial_s, self.cap_s = what, initial_s, cap_s
        self.failures = 0
        self.since = 0.0
        self.last_said = 0.0

    def delay(self) -> float:
        """Exponential in the failures so far, capped, with full jitter on its upper half."""
        ceiling: float = min(self.cap_s, self.initial_s * 2.0 ** min(self.failures - 1, 30))
        return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret

    def failed(self, error: BaseException) -> float:
        """Count a failure, log it if it is news, and return how long to wait."""
        now = time.monotonic()
        self.failures += 1
        if self.failures == 1:
            self.since = self.last_said = now
            log.error("outage: retrying with backoff", what=self.what, error=repr(error)[:500],
                      exc_info=error)
        elif now - self.last_said >= SUMMARY_EVERY_S:
            self.last_said = now
            log.warning("outage continues", what=self.what, failures=self.failures,
                        for_s=round(now - self.since, 1), error=repr(error)[:500])
        return self.delay()

    def recovered(self) -> None:
        if self.failures:
            log.warning("outage over", what=self.what, failures=self.failures,
                        for_s=round(time.monotonic() - self.since, 1))
            self.failures = 0


async def run_until_stopped(what: str, stop: asyncio.Event,
                            round_: Callable[[], Awaitable[None]],
                            errors: tuple[type[BaseException], ...] = (Exception,)) -> None:
    """Run `round_` (which returns when `stop` is set) again after each failure, backing off
    while they follow each other; the one loop of every background service."""
    outage = Outage(what)
    while not stop.is_set():
        task = asyncio.ensure_future(round_())
        try:
            if outage.failures:
                done, _ = await asyncio.wait({task}, timeout=RECOVERED_AFTER_S)
                if not done:
                    outage.recovered()
            await task
        except errors as e:
            await first_of(stop, within=outage.failed(e))
        finally:
            if not task.done():  # cancelled from outside: take the round down with us
                task.cancel()
