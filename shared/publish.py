"""Publishing: the producer, and many messages, each with its own key, acked together.

Publishing goes through one aiokafka producer per process: per-message keys, acks from all
in-sync replicas, idempotence on. Messages sent together travel in one produce request without
a linger (KAFKA_LINGER_MS, default 0): send() appends to the batch without yielding, so the
sender finds them all when it next runs. (FastStream's own publish path costs several times more
per message on these machines, measured with bench/ingest.py; its consumer metrics stay in
/metrics.) Kept apart from shared/broker.py so that a process that only publishes need not
import FastStream.

publish_keyed returns only when every message is acked, so a caller that commits offsets
afterwards never commits past an unpublished message.
"""

import asyncio
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from shared.settings import Settings, servers

JSON_HEADERS = [("content-type", b"application/json")]


def create_producer(settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=servers(settings.kafka_bootstrap_servers),
        client_id="clients-pipeline",
        acks="all",
        enable_idempotence=True,
        linger_ms=settings.kafka_linger_ms,
        max_batch_size=256 * 1024,
    )


async def publish_keyed(producer: AIOKafkaProducer, topic: str,
                        messages: Iterable[tuple[str, BaseModel]]) -> int:
    futures = [await producer.send(topic, model.model_dump_json().encode(), key=key.encode(),
                                   headers=JSON_HEADERS)
               for key, model in messages]
    if futures:
        await asyncio.gather(*futures)
    return len(futures)
