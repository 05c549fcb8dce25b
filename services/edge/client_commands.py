"""The HTTP API's writes: each is a command on `clients.commands.v1`, applied by the commands
service like any other; the edge has no write path of its own. It publishes, waits for the
recorded result (as the Integration API waits for its upsert), and answers with it: 200 applied
or unchanged, 404 not found, 409 conflict, 422 rejected; 202 with the command id when the result
has not come within HTTP_RESULT_TIMEOUT_S (the command still applies: ask again with the id)."""

import uuid
from functools import partial
from typing import Any

from schemas.api import Accepted, ClientView, CommandAnswer
from schemas.commands import Actor, ClientCommand, CommandResult
from services.edge import reads, sql
from shared.access import Principal
from shared.notify import COMMANDS_RECORDED, rows_by_key
from shared.publish import publish_keyed
from shared.resources import Deps
from shared.topics import COMMANDS

STATUS_OF = {"applied": 200, "unchanged": 200, "not_found": 404, "conflict": 409,
             "rejected": 422}


def actor_of(principal: Principal) -> Actor:
    return Actor(type=principal.kind, id=principal.id, name=principal.name)


def command(principal: Principal, action: str, command_id: str | None,
            **fields: Any) -> ClientCommand:
    """The command as the commands service will read it (a ValidationError is the caller's
    422)."""
    return ClientCommand.model_validate({
        "command_id": command_id or uuid.uuid4().hex, "store_id": principal.store_id,
        "action": action, "actor": actor_of(principal), **fields})


async def publish_and_wait(deps: Deps, c: ClientCommand) -> CommandResult | None:
    """The command's recorded result; None when it has not come in time."""
    found = await deps.listener.wait_for(
        COMMANDS_RECORDED, rows_by_key(deps.pool, sql.COMMAND_RESULTS), (c.store_id, c.command_id),
        partial(publish_keyed, deps.producer, COMMANDS, [(str(c.client_id or c.command_id), c)]),
        deps.settings.http_result_timeout_s)
    return None if found is None else CommandResult.model_validate(found["result"])


async def send(deps: Deps, c: ClientCommand) -> tuple[int, CommandAnswer | Accepted]:
    result = await publish_and_wait(deps, c)
    if result is None:
        return 202, Accepted(command_id=c.command_id)
    client: ClientView | None = None
    if c.client_id is not None and result.outcome in ("applied", "unchanged", "conflict"):
        client = await reads.get_client(deps.pool, c.store_id, c.client_id)
    warnings = []
    if client is not None and result.outcome == "applied" and c.changes is not None \
            and not {"name", "phone"}.isdisjoint(c.changes.model_fields_set):
        warnings = await reads.possible_duplicates(deps.pool, c.store_id, client.id,
                                                   client.name, client.phone)
    return STATUS_OF[result.outcome], CommandAnswer(result=result, client=client,
                                                    warnings=warnings)
