"""Commands end to end through Kafka: the commands service applies them from
`clients.commands.v1`, answers every one (bad ones included) on `clients.commands.results.v1`,
and an archived client's email can then be created again through the Integration API."""

import uuid

import httpx

from shared import stores
from shared.db import Pool
from shared.topics import COMMAND_RESULTS, COMMANDS, EVENTS
from tests.conftest import Pipeline
from tests.support.kafka_helpers import Watcher, produce


async def test_archive_through_kafka_then_the_same_email_creates_a_new_client(
        pipeline: Pipeline, pool: Pool, store: stores.Store) -> None:
    key = await stores.create_key(pool, store.id, "Storefront")
    auth = {"Authorization": f"Bearer {key.token}"}
    bootstrap = pipeline.settings.kafka_bootstrap_servers
    async with httpx.AsyncClient(base_url=pipeline.base_url, timeout=30) as http:
        first = await http.post("/integrations/v1/clients", headers=auth,
                                json={"email": "gone@shop.com", "name": "Gone"})
        assert first.status_code == 201, first.text
        client_id = first.json()["client"]["id"]
        archive = {"command_id": uuid.uuid4().hex, "store_id": str(store.id),
                   "action": "archive", "actor": {"type": "member", "name": "Ana"},
                   "client_id": client_id}
        unreadable_id = uuid.uuid4().hex
        async with Watcher(bootstrap, COMMAND_RESULTS) as results, \
                Watcher(bootstrap, EVENTS) as events:
            await produce(bootstrap, COMMANDS, [b"{not json", {"command_id": unreadable_id},
                                                archive], keys=[client_id] * 3)
            (refused,) = await results.take(lambda v: v["command_id"] == unreadable_id)
            (done,) = await results.take(lambda v: v["command_id"] == archive["command_id"])
            (archived,) = await events.take(lambda v: v["client"]["id"] == client_id
                                            and v["type"] == "client.archived")
        again = await http.post("/integrations/v1/clients", headers=auth,
                                json={"email": "gone@shop.com", "name": "Back"})
    assert refused["outcome"] == "rejected"       # a bad command stops nothing behind it
    assert done["outcome"] == "applied"
    assert (archived["type"], archived["client"]["version"]) == ("client.archived", 2)
    assert again.status_code == 201, again.text
    assert again.json()["client"]["id"] != client_id
