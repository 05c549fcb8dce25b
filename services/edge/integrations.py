"""POST /integrations/v1/clients: the Integration API's upsert, through the same topic and
resolver as every other source. The edge checks the key and the fields (so a caller gets 401 or
422 at once), publishes to `clients.ingest.v1`, and waits for the recorded result."""

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from pydantic import ValidationError

from schemas.common import FieldError
from schemas.events import ClientSnapshot
from schemas.ingest import ClientRequest
from services.edge import reads, sql
from services.edge.guard import bearer
from shared.normalize import InvalidRecordError, bounded_errors, field_errors, to_command
from shared.notify import TOUCHES_RECORDED, rows_by_key
from shared.publish import JSON_HEADERS
from shared.resources import Deps
from shared.stores import KeyIdentity, authenticate
from shared.topics import INGEST

# The columns of a recorded result that are not the client's.
KEY_AND_RESULT = ("request_store", "request_scope", "request_id", "outcome", "duplicate")


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


async def authenticate_request(deps: Deps, authorization: str | None
                               ) -> tuple[KeyIdentity, str] | Answer:
    """The key behind the bearer token (and the token), or 401: before the body is read."""
    token = bearer(authorization)
    identity = await authenticate(deps.pool, token) if token else None
    if identity is None or token is None:
        return Answer(401, {"error": "missing, unknown or revoked integration key"})
    return identity, token


async def upsert_client(deps: Deps, caller: tuple[KeyIdentity, str], raw: bytes) -> Answer:
    identity, token = caller
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, too deep, too long a number
        body = None
    if not isinstance(body, dict):
        return _unprocessable([FieldError(field="body", message="not a JSON object")])
    try:
        request = ClientRequest.model_validate(body)
        request_id = request.request_id or uuid.uuid4().hex
        to_command(request, request_id=request_id, store_id=identity.store_id,
                   region=identity.region, received_at=datetime.now(UTC))
    except ValidationError as e:
        return _unprocessable(field_errors(e))
    except InvalidRecordError as e:
        return _unprocessable(e.errors)

    message = {**body, "request_id": request_id, "integration_key": token}
    row = await deps.listener.wait_for(
        TOUCHES_RECORDED, rows_by_key(deps.pool, sql.RESULTS_FOR_REQUESTS),
        (identity.store_id, identity.key_id, request_id),
        partial(deps.producer.send_and_wait, INGEST, json.dumps(message).encode(),
                key=request_id.encode(), headers=JSON_HEADERS),
        deps.settings.http_result_timeout_s)
    if row is None:
        return Answer(202, {"request_id": request_id})
    outcome, duplicate = row["outcome"], row["duplicate"]
    client = ClientSnapshot.model_validate(
        {k: v for k, v in row.items() if k not in KEY_AND_RESULT})
    body = {"client": client.model_dump(mode="json"), "duplicate": duplicate}
    if outcome == "created":  # possible duplicates of a new client (seed 002): never merged
        body["warnings"] = [w.model_dump(mode="json") for w in await reads.possible_duplicates(
            deps.pool, identity.store_id, client.id, client.name, client.phone)]
    return Answer(201 if outcome == "created" else 200, body)


def _unprocessable(errors: list[FieldError]) -> Answer:
    return Answer(422, {"errors": [e.model_dump() for e in bounded_errors(errors)]})
