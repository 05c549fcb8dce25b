"""Master data (seed 001): a store's customer types, customer segments and brokers."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StringConstraints

from schemas.common import Contract, Text

MasterKind = Literal["customer_type", "customer_segment", "broker"]
# The client field each kind fills.
FIELD_OF: dict[str, str] = {"customer_type": "customer_type_id",
                            "customer_segment": "customer_segment_id", "broker": "broker_id"}
MasterName = Annotated[Text, StringConstraints(min_length=1, max_length=100)]


class MasterDataView(Contract):
    id: UUID
    kind: MasterKind
    name: str
    created_at: datetime
    updated_at: datetime


class MasterDataList(Contract):
    items: list[MasterDataView] = Field(description="by name")


class InUse(Contract):
    count: int = Field(description="clients (live or archived) that use it; a delete is "
                       "refused while it is above 0")


class MasterDataBody(Contract):
    name: MasterName
    command_id: str | None = Field(default=None, min_length=1, max_length=128)


class MasterDataChanged(Contract):
    """`master_data.changed` on `clients.events.v1` (key = store id)."""

    id: UUID = Field(description="stable across re-publication: consumers dedupe on it")
    type: Literal["master_data.changed"] = "master_data.changed"
    occurred_at: datetime
    store_id: UUID
    kind: MasterKind
    master_data_id: UUID
    name: str
    change: Literal["created", "renamed", "deleted"]
