"""Reads, straight from PostgreSQL (the read pool: a replica when DATABASE_READ_URL is set).

Lists page by keyset: the cursor holds the last row's sort value and id, so a page is an index
range scan wherever it starts and rows inserted meanwhile never shift a page. The cursor also
holds a digest of the query it belongs to (another query's cursor is refused) and the first
page's total, so later pages do not count again."""

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from schemas.accounts import ContactList, ContactView, PriceOverrideList, PriceOverrideView
from schemas.api import (
    AuditActor,
    AuditItem,
    AuditPage,
    ClientPage,
    ClientView,
    CustomerSegments,
    PossibleDuplicate,
    SegmentCount,
    Sort,
    TagCount,
    TagList,
    Timeline,
    TimelineItem,
    Total,
)
from schemas.master_data import InUse, MasterDataList, MasterDataView, MasterKind
from schemas.notes import NoteAuthor, NoteList, NoteView
from schemas.orders import AddressList, AddressView, OrderList, OrderView
from services.edge import reads_sql as sql
from shared import master_data as shared_master_data
from shared.db import Pool

EXACT_UP_TO = 10_000


class BadQueryError(ValueError):
    """422: a parameter the list cannot use (named in `field`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ClientQuery:
    q: str | None = None
    tags: tuple[str, ...] = ()
    type: str | None = None
    status: str | None = None
    source: str | None = None
    archived: bool = False
    created_after: datetime | None = None
    created_before: datetime | None = None
    segment: str | None = None
    vip: bool | None = None
    accepts_marketing: bool | None = None
    customer_type: UUID | None = None
    customer_segment: UUID | None = None
    broker: UUID | None = None
    sort: Sort = "-updated_at"

    def params(self) -> list[Any]:
        """$2… of sql.FILTERS (after the store)."""
        return [_pattern(self.q), list(self.tags) or None, self.type, self.status, self.source,
                self.created_after, self.created_before, self.segment, self.vip,
                self.accepts_marketing, self.customer_type, self.customer_segment, self.broker]

    def digest(self) -> str:
        return hashlib.sha256(repr(self).encode()).hexdigest()[:16]


def tag_list(text: str | None) -> tuple[str, ...]:
    """`tags=vip, Net-30`: trimmed, lower-cased, each once."""
    return tuple(dict.fromkeys(t.strip().lower() for t in (text or "").split(",") if t.strip()))


def like_escape(text: str) -> str:
    return re.sub(r"([\\%_])", r"\\\1", text)


def _pattern(q: str | None) -> str | None:
    """q as a LIKE pattern over the search text. A q that is a phone number as people write it
    ("+1 (555) 010-2030") looks for its digits, as phones are searched by their digits."""
    if q is None or not q.strip():
        return None
    needle = q.strip().lower()
    if re.fullmatch(r"[\d\s()+.\-]+", needle) and sum(c.isdigit() for c in needle) >= 3:
        needle = re.sub(r"\D", "", needle)
    return f"%{like_escape(needle)}%"


def encode_cursor(body: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str, field: str = "cursor") -> dict[str, Any]:
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError, RecursionError):
        body = None
    if not isinstance(body, dict):
        raise BadQueryError(field, "not a cursor this API gave")
    return body


def _sort_value(row: dict[str, Any], sort: str) -> str:
    value = row[sort.lstrip("-")]
    return value.isoformat() if isinstance(value, datetime) else str(value)


async def list_clients(pool: Pool, store_id: UUID, query: ClientQuery, limit: int,
                       cursor: str | None) -> ClientPage:
    after: list[Any] = [None, None]
    total: Total | None = None
    digest = query.digest()
    if cursor:
        body = decode_cursor(cursor)
        if body.get("q") != digest:
            raise BadQueryError("cursor", "the cursor belongs to another query: start over")
        try:
            after = [str(body["v"]), UUID(body["id"])]
            total = Total.model_validate(body["t"])
        except (KeyError, ValueError, TypeError) as e:
            raise BadQueryError("cursor", "not a cursor this API gave") from e
    filters = [store_id, *query.params()]
    rows = [dict(r) for r in await pool.fetch(sql.list_clients(query.sort, query.archived),
                                              *filters, *after, limit + 1)]
    if total is None:
        total = await count(pool, store_id, query)
    page, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor({"q": digest, "v": _sort_value(page[-1], query.sort),
                                 "id": str(page[-1]["id"]), "t": total.model_dump()}
                                ) if more else None
    return ClientPage(clients=[ClientView.model_validate(r) for r in page], next=next_cursor,
                      total=total)


async def count(pool: Pool, store_id: UUID, query: ClientQuery) -> Total:
    """The store's live clients when nothing but a status filters them (counters: exact at any
    size); otherwise exact up to 10,000 matches, past that the planner's estimate, marked."""
    if not query.archived and all(p is None for p in replace(query, status=None).params()):
        return Total(value=await pool.fetchval(sql.LIVE_CLIENTS, store_id, query.status),
                     exact=True)
    archived, filters = query.archived, [store_id, *query.params()]
    exact = await pool.fetchval(sql.count_clients(archived), *filters, EXACT_UP_TO + 1)
    if exact <= EXACT_UP_TO:
        return Total(value=exact, exact=True)
    plan = await pool.fetchval(sql.estimate_clients(archived), *filters)
    estimate = int((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"])
    return Total(value=max(estimate, exact), exact=False)


async def possible_duplicates(pool: Pool, store_id: UUID, client_id: UUID, name: str,
                              phone: str | None) -> list[PossibleDuplicate]:
    """Other live clients of the store that may be the same person (never merged here)."""
    return [PossibleDuplicate.model_validate(dict(r)) for r in await pool.fetch(
        sql.POSSIBLE_DUPLICATES, store_id, client_id, name, phone)]


async def get_client(pool: Pool, store_id: UUID, client_id: UUID) -> ClientView | None:
    row = await pool.fetchrow(sql.CLIENT, client_id, store_id)
    return None if row is None else ClientView.model_validate(dict(row))


LABELS = {"new": "New", "returning": "Returning", "loyal": "Loyal", "vip": "VIP",
          "at_risk": "At risk", "total": "Total"}


async def segments(pool: Pool, store_id: UUID) -> CustomerSegments:
    row = await pool.fetchrow(sql.SEGMENTS, store_id)
    assert row is not None  # an aggregate has its row
    return CustomerSegments.model_validate(
        {k: SegmentCount(label=label, count=row[k]) for k, label in LABELS.items()})


async def addresses(pool: Pool, store_id: UUID, client_id: UUID) -> AddressList | None:
    if not await pool.fetchval(sql.CLIENT_EXISTS, client_id, store_id):
        return None
    rows = await pool.fetch(sql.ADDRESSES, client_id, store_id)
    return AddressList(addresses=[AddressView.model_validate(dict(r)) for r in rows])


async def master_data(pool: Pool, store_id: UUID, kind: MasterKind) -> MasterDataList:
    return MasterDataList(items=[MasterDataView.model_validate(dict(r)) for r in
                                 await pool.fetch(sql.MASTER_DATA, store_id, kind)])


async def in_use(pool: Pool, store_id: UUID, kind: MasterKind, entry_id: UUID) -> InUse | None:
    if not await pool.fetchval(sql.MASTER_ENTRY, entry_id, store_id, kind):
        return None
    return InUse(count=await shared_master_data.in_use(pool, kind, entry_id))


async def contacts(pool: Pool, store_id: UUID, client_id: UUID) -> ContactList | None:
    if not await pool.fetchval(sql.CLIENT_EXISTS, client_id, store_id):
        return None
    return ContactList(contacts=[ContactView.model_validate(dict(r)) for r in
                                 await pool.fetch(sql.CONTACTS, client_id, store_id)])


async def price_overrides(pool: Pool, store_id: UUID, client_id: UUID
                          ) -> PriceOverrideList | None:
    if not await pool.fetchval(sql.CLIENT_EXISTS, client_id, store_id):
        return None
    return PriceOverrideList(price_overrides=[
        PriceOverrideView.model_validate(dict(r))
        for r in await pool.fetch(sql.PRICE_OVERRIDES, client_id, store_id)])


async def notes(pool: Pool, store_id: UUID, client_id: UUID, limit: int) -> NoteList | None:
    if not await pool.fetchval(sql.CLIENT_EXISTS, client_id, store_id):
        return None
    return NoteList(notes=[NoteView(
        id=r["id"], text=r["text"], created_at=r["created_at"], updated_at=r["updated_at"],
        author=NoteAuthor(type=r["author_type"], id=r["author_id"], name=r["author_name"]))
        for r in await pool.fetch(sql.NOTES, client_id, store_id, limit)])


async def orders(pool: Pool, store_id: UUID, client_id: UUID, limit: int) -> OrderList | None:
    if not await pool.fetchval(sql.CLIENT_EXISTS, client_id, store_id):
        return None
    rows = await pool.fetch(sql.ORDERS, client_id, store_id, limit)
    return OrderList(orders=[OrderView.model_validate(dict(r)) for r in rows])


async def tags(pool: Pool, store_id: UUID, prefix: str, limit: int) -> TagList:
    rows = await pool.fetch(sql.TAGS, store_id, like_escape(prefix.strip().lower()) + "%", limit)
    return TagList(tags=[TagCount(tag=r["tag"], clients=r["clients"]) for r in rows])


async def timeline(pool: Pool, store_id: UUID, client_id: UUID, limit: int,
                   cursor: str | None) -> Timeline | None:
    if not await pool.fetchval(sql.CLIENT_EXISTS, client_id, store_id):
        return None
    after: list[Any] = [None, None, None]
    if cursor:
        body = decode_cursor(cursor)
        try:
            after = [datetime.fromisoformat(body["at"]), str(body["kind"]), str(body["ref"])]
        except (KeyError, ValueError, TypeError) as e:
            raise BadQueryError("cursor", "not a cursor this API gave") from e
    rows = await pool.fetch(sql.TIMELINE, client_id, store_id, *after, limit + 1)
    page, more = rows[:limit], len(rows) > limit
    last = page[-1] if more else None
    return Timeline(
        items=[TimelineItem(kind=r["kind"], at=r["at"], detail=r["detail"]) for r in page],
        next=encode_cursor({"at": last["at"].isoformat(), "kind": last["kind"],
                            "ref": last["ref"]}) if last else None)


async def audit(pool: Pool, store_id: UUID, client_id: UUID, limit: int,
                cursor: str | None) -> AuditPage | None:
    if not await pool.fetchval(sql.CLIENT_EXISTS, client_id, store_id):
        return None
    below = None
    if cursor:
        body = decode_cursor(cursor)
        if not isinstance(body.get("seq"), int):
            raise BadQueryError("cursor", "not a cursor this API gave")
        below = body["seq"]
    rows = await pool.fetch(sql.AUDIT, client_id, store_id, below, limit + 1)
    page, more = rows[:limit], len(rows) > limit
    return AuditPage(
        entries=[AuditItem(seq=r["seq"], at=r["at"], action=r["action"],
                           actor=AuditActor(type=r["actor_type"], id=r["actor_id"],
                                            name=r["actor_name"]),
                           changes=r["changes"], client_version=r["client_version"],
                           command_id=r["command_id"]) for r in page],
        next=encode_cursor({"seq": page[-1]["seq"]}) if more else None)
