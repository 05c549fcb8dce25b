"""What a command does to a client row, as pure functions of the command and the row: shared by
the one-at-a-time path (logic.py) and the set-based one (batch.py), so both check the same way."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.commands import ClientCommand
from schemas.events import ChangeType, ClientEvent
from schemas.ingest import MAX_TAGS
from schemas.profiles import WHOLESALE_FIELDS
from services.commands import accounts, addresses, notes
from services.commands.errors import Refused
from shared.audit import Actor, AuditEntry
from shared.normalize import check_email, email_key, to_e164
from shared.outbox import client_event
from shared.settings import Settings, clock
from shared.stats import DEFAULT_RULES, Rules

# An action's event when it is not client.updated.
EVENT_OF: dict[str, ChangeType] = {"archive": "client.archived", "restore": "client.restored",
                                    "request_erasure": "client.archived"}


@dataclass(frozen=True)
class Policy:
    """The settings commands go by: the clock (CLOCK_OFFSET_S), the erasure cool-off, and the
    stats rules (a merge computes the primary's stats again)."""

    clock_offset_s: float = 0.0
    erasure_cool_off_s: float = 604_800.0
    stats: Rules = DEFAULT_RULES

    @classmethod
    def of(cls, settings: Settings) -> "Policy":
        return cls(settings.clock_offset_s, settings.erasure_cool_off_s, Rules.of(settings))

    def now(self) -> datetime:
        return clock(self.clock_offset_s)


# A client's records (their own tables): the commands that change them, and the name
# client.updated gives the change (the audit entry keeps the record before and after).
RECORDS = (addresses, notes, accounts)
RECORD_FIELD = {**{a: m.EVENT_FIELD for m in (addresses, notes) for a in m.ACTIONS},
                **dict.fromkeys(accounts.CONTACT_ACTIONS, "contacts"),
                **dict.fromkeys(accounts.PRICE_ACTIONS, "price_overrides")}

# The audit entry's action where seed 003 names it otherwise than the command.
AUDIT_ACTION = {"set_price_override": "PriceOverrideSet",
                "remove_price_override": "PriceOverrideRemoved"}

# Fields an update may set but not clear.
NOT_CLEARED = ("name", "type", "status", "accepts_marketing", "tax_exempt", "is_consignor",
               "consigned_items")

DEFAULT_POLICY = Policy()  # a value, not a resource: the settings' defaults


def changed_row(c: ClientCommand, before: dict[str, Any]) -> dict[str, Any]:
    """The row as the command leaves it (not yet written); Refused when it cannot be."""
    after = {**before, "tags": list(before["tags"])}
    if before.get("erased_at") is not None:
        raise Refused("conflict", "client_id", "the client was erased")
    if c.action == "cancel_erasure":
        return after
    if c.action in ("archive", "request_erasure"):
        after["archived"] = True
        return after
    if before.get("merged_into") is not None:  # for good: changes go to the one it joined
        raise Refused("conflict", "client_id",
                      f"the client was merged into {before['merged_into']}")
    if c.action == "restore":
        after["archived"] = False
        return after
    if before["archived"]:
        raise Refused("conflict", "client_id", "the client is archived: restore it first")
    if c.action == "set_status":
        after["status"] = c.status
    elif c.action == "set_credit_limit":
        after["credit_limit"] = c.credit_limit
    elif c.action == "tag":
        after["tags"] = tagged(before["tags"], c)
    elif c.changes is not None:
        _update(after, c, before["region"])
    return after


def _update(after: dict[str, Any], c: ClientCommand, region: str) -> None:
    assert c.changes is not None
    for field in c.changes.model_fields_set - {"addresses"}:  # addresses: their own table
        value = getattr(c.changes, field)
        if field in NOT_CLEARED and value is None:
            raise Refused("rejected", field, f"{field} cannot be cleared")
        if field == "email" and value is not None and (why := check_email(value)):
            raise Refused("rejected", "email", why)
        if field == "phone" and value is not None:
            value = to_e164(value, region)
            if value is None:
                raise Refused("rejected", "phone",
                              f"not a possible phone number in region {region}")
        after[field] = value
    after["email_key"] = email_key(after["email"]) if after["email"] else None
    if after["email"] is None and after["phone"] is None:
        raise Refused("rejected", "email", "email or phone is required")
    _profile_rules(after, c.changes.model_fields_set)


def _profile_rules(after: dict[str, Any], given: set[str]) -> None:
    """Wholesale terms for wholesale clients only; a consignor code for consignors only (it
    goes with the flag); the flag stays while consigned items reference the client."""
    if after["type"] != "wholesale":
        for field in WHOLESALE_FIELDS:
            if after[field] not in (None, False):
                raise Refused("rejected", field if field in given else "type",
                              f"{field} is for wholesale clients only")
    if not after["is_consignor"]:
        if after["consigned_items"] > 0:
            raise Refused("conflict", "is_consignor", f"{after['consigned_items']} consigned "
                          "items reference the client: it stays a consignor")
        if "consignor_code" in given and after["consignor_code"] is not None:
            raise Refused("rejected", "consignor_code", "only a consignor has a consignor code")
        after["consignor_code"] = None


def tagged(tags: list[str], c: ClientCommand) -> list[str]:
    kept = [t for t in tags if t not in c.remove]
    out = kept + [t for t in c.add if t not in kept]
    if len(out) > MAX_TAGS:
        raise Refused("rejected", "add", f"a client has at most {MAX_TAGS} tags")
    return out


def entry_of(c: ClientCommand, after: dict[str, Any], diff: dict[str, list[Any]],
           now: datetime) -> AuditEntry:
    return AuditEntry(store_id=after["store_id"], client_id=after["id"],
                      client_version=after["version"], at=now,
                      actor=Actor(c.actor.type, c.actor.id, c.actor.name),
                      action=AUDIT_ACTION.get(c.action, c.action),
                      changes=diff, command_id=c.command_id)


def event_of(c: ClientCommand, after: dict[str, Any], changed: list[str],
           now: datetime) -> ClientEvent:
    kind = ("client.merged" if c.action == "merge" and after.get("merged_into") is not None
            else EVENT_OF.get(c.action, "client.updated"))
    if c.action in RECORD_FIELD:
        changed = [RECORD_FIELD[c.action]]
    return client_event(kind, after, now, changed if kind == "client.updated" else [])
