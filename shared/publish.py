"""Publishing many messages, each with its own key, and waiting for all acks together.

Each message keeps its own key and aiokafka packs them into produce batches (linger_ms).
Returns only when every one is acked, so a caller that commits offsets afterwards never commits
past an unpublished message.
"""

import asyncio
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

JSON_HEADERS = [("content-type", b"application/json")]


async def publish_keyed(producer: AIOKafkaProducer, topic: str,
                        messages: Iterable[tuple[str, BaseModel]]) -> int:
    futures = [await producer.send(topic, model.model_dump_json().encode(), key=key.encode(),
                                   headers=JSON_HEADERS)
               for key, model in messages]
    if futures:
        await asyncio.gather(*futures)
    return len(futures)
