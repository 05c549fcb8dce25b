"""Privacy and compliance for `/v1` and the CLI: erasure requests (commands, like every client
write), the store's RUO settings, attestations (captured through `clients.attestations.v1`,
read here), and the subject-access bundle (itself an audit entry)."""

import uuid
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID

from schemas.privacy import (
    AttestationBody,
    AttestationCapture,
    AttestationList,
    AttestationValidity,
    AttestationView,
    BundleMessage,
    BundleThread,
    ErasureAnswer,
    ErasureList,
    ErasureView,
    Requester,
    RuoSettings,
    SubjectAccessBundle,
)
from services.edge import client_commands, reads_sql
from services.edge import privacy_sql as sql
from shared import audit
from shared.access import Principal
from shared.db import Pool
from shared.notify import ATTESTATIONS_RECORDED, rows_by_key
from shared.publish import publish_keyed
from shared.resources import Deps
from shared.topics import ATTESTATIONS


class NotFoundError(LookupError):
    """No such client or request in the principal's store."""


def erasure_view(row: Any) -> ErasureView:
    status = ("done" if row["done_at"] else "cancelled" if row["cancelled_at"] else "pending")
    return ErasureView(
        id=row["id"], client_id=row["client_id"], status=status, reason=row["reason"],
        requested_by=Requester(type=row["requested_by_type"], id=row["requested_by_id"],
                               name=row["requested_by_name"]),
        requested_at=row["requested_at"], due_at=row["due_at"],
        cancelled_at=row["cancelled_at"], cancelled_by=row["cancelled_by_name"],
        done_at=row["done_at"], receipt=row["receipt"])


async def get_erasure(pool: Pool, store_id: UUID, erasure_id: UUID) -> ErasureView | None:
    row = await pool.fetchrow(sql.ERASURE, erasure_id, store_id)
    return None if row is None else erasure_view(row)


async def list_erasures(pool: Pool, store_id: UUID, status: str | None, limit: int
                        ) -> ErasureList:
    rows = await pool.fetch(sql.ERASURES, store_id, status, limit)
    return ErasureList(requests=[erasure_view(r) for r in rows])


async def erasure_command(deps: Deps, principal: Principal, action: str,
                          command_id: str | None, **fields: Any) -> tuple[int, Any]:
    """request_erasure or cancel_erasure as a command: 201 made, 200 as it was, else the
    command's status; 202 with the command id when the result is late."""
    c = client_commands.command(principal, action, command_id, **fields)
    result = await client_commands.publish_and_wait(deps, c)
    if result is None:
        return 202, {"command_id": c.command_id}
    erasure = (await get_erasure(deps.pool, principal.store_id, result.erasure_id)
               if result.erasure_id else None)
    status = (201 if action == "request_erasure" and result.outcome == "applied"
              else client_commands.STATUS_OF[result.outcome])
    return status, ErasureAnswer(result=result, erasure=erasure)


async def cancel_erasure(deps: Deps, principal: Principal, erasure_id: UUID,
                         command_id: str | None) -> tuple[int, Any]:
    found = await get_erasure(deps.pool, principal.store_id, erasure_id)
    if found is None:
        raise NotFoundError("no such erasure request")
    return await erasure_command(deps, principal, "cancel_erasure", command_id,
                                 client_id=found.client_id, erasure_id=erasure_id)


async def ruo_settings(pool: Pool, store_id: UUID) -> RuoSettings | None:
    row = await pool.fetchrow(sql.RUO, store_id)
    return None if row is None else RuoSettings.model_validate(dict(row))


async def set_ruo_settings(pool: Pool, store_id: UUID, given: RuoSettings, at: datetime
                           ) -> RuoSettings:
    row = await pool.fetchrow(sql.SET_RUO, store_id, given.text, given.version,
                              given.validity_days, at)
    assert row is not None  # an upsert returns its row
    return RuoSettings.model_validate(dict(row))


async def attestations(pool: Pool, store_id: UUID, client_id: UUID) -> AttestationList | None:
    if not await pool.fetchval(reads_sql.CLIENT_EXISTS, client_id, store_id):
        return None
    rows = await pool.fetch(sql.ATTESTATIONS, client_id, store_id)
    return AttestationList(attestations=[AttestationView.model_validate(dict(r)) for r in rows])


async def validity(pool: Pool, store_id: UUID, client_id: UUID, now: datetime
                   ) -> AttestationValidity | None:
    """Valid while the latest capture is inside the store's window (validity_days from when
    it was captured); no settings, no window: not valid."""
    found = await attestations(pool, store_id, client_id)
    if found is None:
        return None
    latest = found.attestations[0] if found.attestations else None
    settings = await ruo_settings(pool, store_id)
    expires = (latest.captured_at + timedelta(days=settings.validity_days)
               if latest is not None and settings is not None else None)
    return AttestationValidity(valid=expires is not None and now < expires, latest=latest,
                               expires_at=expires)


async def capture(deps: Deps, principal: Principal, client_id: UUID, body: AttestationBody
                  ) -> tuple[int, Any]:
    """Publish the capture as checkout would, and answer the recorded attestation (201), or
    202 with its capture id when it is late. Text and version default to the store's."""
    pool = deps.pool
    if not await pool.fetchval(reads_sql.CLIENT_EXISTS, client_id,
                               principal.store_id):
        raise NotFoundError("no such client")
    settings = await ruo_settings(pool, principal.store_id)
    text = body.text or (settings.text if settings else None)
    version = body.version or (settings.version if settings else None)
    if text is None or version is None:
        raise ValueError("no RUO settings for this store: give text and version")
    capture_id = body.capture_id or f"api-{uuid.uuid4().hex}"
    record = AttestationCapture(
        capture_id=capture_id, store_id=principal.store_id, client_id=client_id,
        source_label="api", text=text, version=version,
        captured_at=body.captured_at or deps.settings.now(), ip=body.ip,
        user_agent=body.user_agent, actor_name=principal.name)
    row = await deps.listener.wait_for(
        ATTESTATIONS_RECORDED, rows_by_key(pool, sql.ATTESTATIONS_BY_CAPTURE),
        (principal.store_id, capture_id),
        partial(publish_keyed, deps.producer, ATTESTATIONS,
                [(f"{principal.store_id}:{capture_id}", record)]),
        deps.settings.http_result_timeout_s)
    if row is None:
        return 202, {"capture_id": capture_id}
    return 201, AttestationView.model_validate(
        {k: v for k, v in row.items() if k not in ("store_id", "capture_id")})


async def bundle(deps: Deps, principal: Principal, client_id: UUID) -> SubjectAccessBundle:
    """Everything held about one client of the principal's store; the export is audited."""
    pool, store_id = deps.pool, principal.store_id
    client = await pool.fetchrow(sql.BUNDLE_CLIENT, client_id, store_id)
    if client is None:
        raise NotFoundError("no such client")
    messages = [dict(m) for m in await pool.fetch(sql.BUNDLE_MESSAGES, client_id, store_id)]
    threads = [BundleThread(**dict(t), messages=[
        BundleMessage.model_validate({k: v for k, v in m.items() if k != "thread_id"})
        for m in messages if m["thread_id"] == t["id"]])
        for t in await pool.fetch(sql.BUNDLE_THREADS, client_id, store_id)]
    now = deps.settings.now()
    async with pool.acquire() as conn, conn.transaction():
        await audit.record(conn, [audit.AuditEntry(
            store_id=store_id, client_id=client_id, client_version=client["version"], at=now,
            actor=audit.Actor(principal.kind, principal.id, principal.name),
            action="exported", changes={}, command_id=None)])
    return SubjectAccessBundle(
        exported_at=now, store_id=store_id, client=_jsonable(dict(client)),
        external_ids=[_jsonable(dict(r)) for r in
                      await pool.fetch(sql.BUNDLE_EXTERNAL_IDS, client_id, store_id)],
        touches=[_jsonable(dict(r)) for r in
                 await pool.fetch(sql.BUNDLE_TOUCHES, client_id, store_id)],
        threads=threads, attestations=[AttestationView.model_validate(dict(r)) for r in
                                       await pool.fetch(sql.ATTESTATIONS, client_id, store_id)],
        audit=[_jsonable(dict(r)) for r in
               await pool.fetch(sql.BUNDLE_AUDIT, client_id, store_id)],
        erasure_requests=[erasure_view(r) for r in
                          await pool.fetch(sql.CLIENT_ERASURES, client_id, store_id)],
        orders=await _rows(pool, sql.BUNDLE_ORDERS, client_id, store_id),
        payments=await _rows(pool, sql.BUNDLE_PAYMENTS, client_id, store_id),
        addresses=await _rows(pool, sql.BUNDLE_ADDRESSES, client_id, store_id),
        notes=await _rows(pool, reads_sql.NOTES, client_id, store_id, None),  # LIMIT NULL: all
        contacts=await _rows(pool, reads_sql.CONTACTS, client_id, store_id),
        price_overrides=await _rows(pool, reads_sql.PRICE_OVERRIDES, client_id, store_id))


async def _rows(pool: Pool, query: str, *args: Any) -> list[dict[str, Any]]:
    return [_jsonable(dict(r)) for r in await pool.fetch(query, *args)]


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, UUID) else v.isoformat() if isinstance(v, datetime)
                else str(v) if v is not None and not isinstance(v, str | int | float | bool |
                                                                  list | dict) else v)
            for k, v in row.items()}
