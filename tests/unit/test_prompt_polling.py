"""Every consumer polls again at once after an empty poll: no fixed sleep on a record's path."""

from typing import Any

import anyio
import pytest
from faststream.kafka import KafkaRouter

from shared.broker import PromptBatchSubscriber, Records, raw_batch_subscriber


class Consumer:
    """getmany() as aiokafka answers it: nothing within the timeout, then a record."""

    def __init__(self) -> None:
        self.answers: list[dict[str, list[str]]] = [{}, {"tp": ["record"]}]

    async def getmany(self, timeout_ms: int, max_records: int | None) -> dict[str, list[str]]:
        return self.answers.pop(0)


async def test_an_empty_poll_is_followed_by_the_next_poll_not_a_sleep(
        monkeypatch: pytest.MonkeyPatch) -> None:
    router = KafkaRouter()

    @raw_batch_subscriber(router, "clients.ingest.v1", group="g", max_records=10)
    async def handle(records: Records) -> None: ...

    subscriber = router.subscribers[0]
    assert isinstance(subscriber, PromptBatchSubscriber)

    async def no_sleep(*_: Any) -> None:
        raise AssertionError("slept after an empty poll")
    monkeypatch.setattr(anyio, "sleep", no_sleep)
    consumer: Any = Consumer()
    assert await subscriber.get_msg(consumer) == ()
    assert await subscriber.get_msg(consumer) == ("record",)
