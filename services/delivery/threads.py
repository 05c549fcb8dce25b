"""Inbox threads: store-scoped, one open thread per client; unread = inbound messages newer
than operator_last_read_at (computed when read, never stored)."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from services.delivery import sql
from shared.db import Connection

PREVIEW_CHARS = 140


def preview(subject: str | None, text: str | None) -> str:
    return " ".join((text or subject or "").split())[:PREVIEW_CHARS]


@dataclass(frozen=True)
class Want:
    store_id: UUID
    client_id: UUID
    channel: str
    given: UUID | None = None   # a thread named by the caller: must be this client's


async def threads_for(conn: Connection, wants: Sequence[Want], at: datetime
                      ) -> list[UUID | None]:
    """For each want: the given thread (None when it is not the client's in this store), else
    the client's open thread, else a new open one. A fixed number of statements."""
    given = {w.given for w in wants if w.given is not None}
    named = {r["id"]: (r["store_id"], r["client_id"])
             for r in (await conn.fetch(sql.THREADS_BY_IDS, list(given)) if given else [])}
    pairs = sorted({(w.store_id, w.client_id) for w in wants if w.given is None})
    open_ = await _open_threads(conn, pairs)
    missing = [p for p in pairs if p not in open_]
    for _ in range(3):  # lost a race for the one-open-thread index: take the winner's
        if not missing:
            break
        channel = {(w.store_id, w.client_id): w.channel for w in wants}
        created = await conn.fetch(sql.NEW_THREADS, [uuid.uuid4() for _ in missing],
                                   [p[0] for p in missing], [p[1] for p in missing],
                                   [channel[p] for p in missing], at)
        open_.update({(r["store_id"], r["client_id"]): r["id"] for r in created})
        open_.update(await _open_threads(conn, [p for p in missing if p not in open_]))
        missing = [p for p in missing if p not in open_]
    if missing:
        raise RuntimeError(f"no open thread for {missing}")
    return [(w.given if named.get(w.given) == (w.store_id, w.client_id) else None)
            if w.given is not None else open_[(w.store_id, w.client_id)] for w in wants]


async def _open_threads(conn: Connection, pairs: Sequence[tuple[UUID, UUID]]
                        ) -> dict[tuple[UUID, UUID], UUID]:
    if not pairs:
        return {}
    rows = await conn.fetch(sql.OPEN_THREADS, [p[0] for p in pairs], [p[1] for p in pairs])
    return {(r["store_id"], r["client_id"]): r["id"] for r in rows}


@dataclass(frozen=True)
class Activity:
    thread_id: UUID
    at: datetime
    subject: str | None
    text: str | None
    channel: str


async def touch(conn: Connection, activity: Sequence[Activity]) -> None:
    """Last activity, preview and channel; the latest activity per thread wins."""
    latest: dict[UUID, Activity] = {}
    for a in activity:
        if a.thread_id not in latest or a.at >= latest[a.thread_id].at:
            latest[a.thread_id] = a
    if latest:
        items = list(latest.values())
        await conn.execute(sql.TOUCH_THREADS, [a.thread_id for a in items],
                           [a.at for a in items], [preview(a.subject, a.text) for a in items],
                           [a.channel for a in items])
