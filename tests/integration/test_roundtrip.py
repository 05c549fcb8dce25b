"""The plumbing end to end: a real topic, a real consumer under the runner, effects in PostgreSQL,
offsets committed only after the effect, redelivery after a failure, a graceful stop mid-handler."""

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence

from faststream import AckPolicy
from faststream.kafka import KafkaRouter

from shared import stores
from shared.db import Pool
from shared.resources import Deps
from shared.runner import Service, run
from shared.settings import Settings
from tests.conftest import eventually, unique
from tests.support.kafka_helpers import committed_total, produce


def store_writer(topic: str, group: str, before_write: Callable[[str], Awaitable[None]]
                 ) -> Service:
    """A consumer that creates one store per message, as a real service would write its rows."""
    def routers(deps: Deps) -> Sequence[KafkaRouter]:
        router = KafkaRouter()

        @router.subscriber(topic, group_id=group, auto_offset_reset="earliest",
                           ack_policy=AckPolicy.NACK_ON_ERROR)
        async def on_message(body: dict[str, str]) -> None:
            await before_write(body["name"])
            await stores.create_store(deps.pool, body["name"])

        return [router]
    return Service("store-writer", routers=routers)


async def names_in_db(pool: Pool, names: list[str]) -> Counter[str]:
    rows = await pool.fetch("SELECT name FROM stores WHERE name = ANY($1::text[])", names)
    return Counter(r["name"] for r in rows)


async def test_messages_become_rows_and_a_failure_is_redelivered_not_lost(
        settings: Settings, pool: Pool, make_topic: Callable[..., Awaitable[str]]) -> None:
    topic, group = await make_topic(partitions=3), unique("group")
    names = [unique("roundtrip") for _ in range(12)]
    flaky = names[5]
    attempts: Counter[str] = Counter()

    async def fail_once(name: str) -> None:
        attempts[name] += 1
        if name == flaky and attempts[name] == 1:
            raise ConnectionError("database went away")  # an infrastructure failure: nack

    stop = asyncio.Event()
    runner = asyncio.create_task(run(settings, [store_writer(topic, group, fail_once)], stop))
    await produce(settings.kafka_bootstrap_servers, topic, [{"name": n} for n in names],
                  keys=names)

    async def all_written() -> bool:
        return sum((await names_in_db(pool, names)).values()) == len(names)
    await eventually(all_written)
    stop.set()
    await runner

    assert await names_in_db(pool, names) == Counter(names)  # each exactly once
    assert attempts[flaky] == 2
    assert await committed_total(settings.kafka_bootstrap_servers, group, topic) == len(names)


async def test_stop_lets_the_in_flight_handler_finish_and_commit(
        settings: Settings, pool: Pool, make_topic: Callable[..., Awaitable[str]]) -> None:
    topic, group = await make_topic(), unique("group")
    name = unique("graceful")
    started = asyncio.Event()

    async def slow(_: str) -> None:
        started.set()
        await asyncio.sleep(1.5)

    stop = asyncio.Event()
    runner = asyncio.create_task(run(settings, [store_writer(topic, group, slow)], stop))
    await produce(settings.kafka_bootstrap_servers, topic, [{"name": name}])
    async with asyncio.timeout(30):
        await started.wait()
    stop.set()  # what SIGTERM does
    await runner

    assert await names_in_db(pool, [name]) == Counter([name])
    assert await committed_total(settings.kafka_bootstrap_servers, group, topic) == 1
