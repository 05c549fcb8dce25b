"""Build commands the way the ingest service does: validated fields, normalized for a store."""

import uuid
from datetime import UTC, datetime
from typing import Any

from schemas.ingest import ClientFields
from schemas.upsert import UpsertCommand
from shared.normalize import to_command
from shared.stores import IssuedKey


def command(key: IssuedKey, request_id: str | None = None, label: str = "WooCommerce",
            **fields: Any) -> UpsertCommand:
    fields.setdefault("name", "Jane Doe")
    return to_command(ClientFields.model_validate(fields),
                      request_id=request_id or uuid.uuid4().hex, store_id=key.store_id,
                      region="US", integration_key_id=key.id, source_label=label,
                      received_at=datetime.now(UTC))
