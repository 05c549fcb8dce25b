"""A scheduled webhook retry is a database row: stopping the service between two attempts
loses nothing, and a new process picks the retry up."""

import uuid

from services.webhooks import endpoints
from shared import stores
from shared.db import Pool
from shared.settings import Settings
from tests.conftest import eventually
from tests.support.webhook_helpers import (
    client_event,
    hooks_settings,
    publish_events,
    running_webhooks,
)
from tests.support.webhook_receiver import running_receiver


async def test_a_restart_between_attempts_loses_no_retry(settings: Settings, pool: Pool,
                                                         store: stores.Store) -> None:
    s = hooks_settings(settings, webhook_retry_schedule_s=[3.0])
    async with running_receiver() as receiver:
        hook = receiver.hook(uuid.uuid4().hex, script=[500, 200])
        endpoint = await endpoints.add_endpoint(pool, s, store.id, hook.url, [])
        hook.secrets.append(endpoint["secret"])
        event = client_event(store.id)

        async def delivery() -> dict[str, object]:
            (d,) = await endpoints.list_deliveries(pool, endpoint["id"], None, 10)
            return d

        async def first_attempt_recorded() -> bool:
            found = await endpoints.list_deliveries(pool, endpoint["id"], None, 10)
            return bool(found) and found[0]["tries"] == 1
        async with running_webhooks(s):
            await publish_events(s, [event])
            await eventually(first_attempt_recorded)
        # Stopped before the retry fell due: it waits in the database.
        stopped = await delivery()
        assert (stopped["state"], stopped["tries"]) == ("pending", 1)
        assert len(hook.received) == 1

        async def succeeded() -> bool:
            return (await delivery())["state"] == "succeeded"
        async with running_webhooks(s, from_now=False):  # the same group: a restart
            await eventually(succeeded)
        assert hook.ids() == [str(event.id)] * 2
        assert (await delivery())["tries"] == 2
        await endpoints.set_enabled(pool, endpoint["id"], False)
