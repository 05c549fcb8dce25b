"""Publishing many messages, each with its own key, and waiting for all acks together.

FastStream's batch publish puts one key on the whole batch; here each message keeps its key and
aiokafka packs them into produce batches (linger_ms). Returns only when every one is acked, so a
caller that commits offsets afterwards never commits past an unpublished message.
"""

import asyncio
from collections.abc import Iterable

from faststream.kafka import KafkaBroker
from pydantic import BaseModel

JSON_HEADERS = {"content-type": "application/json"}


async def publish_keyed(broker: KafkaBroker, topic: str,
                        messages: Iterable[tuple[str, BaseModel]]) -> int:
    futures = [
        await broker.publish(model.model_dump_json().encode(), topic, key=key.encode(),
                             headers=JSON_HEADERS, no_confirm=True)
        for key, model in messages
    ]
    if futures:
        await asyncio.gather(*futures)
    return len(futures)
