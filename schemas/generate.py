"""Generate the checked-in contract documents from the pydantic models.

    python -m schemas.generate          # rewrite schemas/generated/
    python -m schemas.generate --check  # exit 1 if they are not current (the tests do this)

One JSON Schema per payload model, an AsyncAPI 3.0 document of the topics they travel on, and
the OpenAPI document of the HTTP API (`/v1`), which FastAPI makes from the edge's routes and
schemas/api.py (the same document the edge serves at /openapi.json).
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from schemas.commands import ClientCommand, CommandResult
from schemas.dlq import DeadLetter
from schemas.events import AnyClientEvent, ClientErased, ClientEvent
from schemas.imports import ImportChunk, ImportProgress
from schemas.ingest import ClientRequest, IngestRecord
from schemas.messages import InboxCommand, MessageEvent, OutboundMessage, ProviderCallback
from schemas.orders import OrderEvent
from schemas.privacy import BUNDLE_VERSION, AttestationCapture, SubjectAccessBundle
from schemas.upsert import UpsertCommand, UpsertResult
from schemas.webhooks import EndpointDisabled, WebhookPayload
from shared import topics

OUT = Path(__file__).parent / "generated"

# topic -> (payload model, what our services do with it, what it is)
CHANNELS: dict[str, tuple[type[BaseModel], str, str]] = {
    topics.INGEST: (IngestRecord, "receive", "Client records from upstream systems."),
    topics.INGEST_DLQ: (DeadLetter, "send", "Rejected input with its reason; nothing written."),
    topics.UPSERT: (UpsertCommand, "send", "Validated, normalized, authenticated commands "
                    "(also received by the upsert service)."),
    topics.UPSERT_RESULTS: (UpsertResult, "send", "One result per request; key = request_id."),
    topics.EVENTS: (AnyClientEvent, "send", "client.created / client.updated / "
                    "client.archived / client.restored / client.merged (ClientEvent), "
                    "client.erased (ClientErased: the id only); key = client id; "
                    "master_data.changed (MasterDataChanged); key = store id; dedupe on id."),
    topics.IMPORT_CHUNKS: (ImportChunk, "receive", "Slices of an import file, published by "
                           "`clients import`; key = job id / bucket."),
    topics.IMPORT_PROGRESS: (ImportProgress, "send", "Import progress; key = job id; the last "
                             "one has done: true."),
    topics.MESSAGES_OUTBOUND: (OutboundMessage, "receive", "Messages to send to a client; "
                               "key = message_id (the idempotency key)."),
    topics.MESSAGES_EVENTS: (MessageEvent, "send", "Every state change of a message: queued, "
                             "sent, delivered, failed, received; key = message_id."),
    topics.DELIVERY_CALLBACKS: (ProviderCallback, "send", "Genuine SendBlue / Resend callbacks "
                                "as received (also received by the delivery service)."),
    topics.INBOX_COMMANDS: (InboxCommand, "receive", "Operator actions on threads: mark_read, "
                            "close, reopen, reply; key = thread_id."),
    topics.COMMANDS: (ClientCommand, "receive", "Changes to a client (or tags on many) by a "
                      "member, a key or the system; key = client id."),
    topics.COMMAND_RESULTS: (CommandResult, "send", "One result per command; key = command id."),
    topics.ATTESTATIONS: (AttestationCapture, "receive", "RUO attestations captured at "
                          "checkout (or through the API); key = store id:capture id."),
    topics.ATTESTATIONS_DLQ: (DeadLetter, "send", "Captures that could not be recorded, with "
                              "their reason."),
    topics.ORDERS: (OrderEvent, "receive", "order.placed / paid / refunded / cancelled from the "
                    "store's order system; key = store id:order id."),
    topics.ORDERS_DLQ: (DeadLetter, "send", "Order events that could not be applied, with "
                        "their reason."),
    topics.WEBHOOK_EVENTS: (EndpointDisabled, "send", "webhook.endpoint_disabled when an "
                            "endpoint answered 410 or failed for the whole window; key = "
                            "endpoint id."),
}
MODELS: list[type[BaseModel]] = list(dict.fromkeys(
    [m for m, _, _ in CHANNELS.values()] + [ClientEvent, ClientErased, ClientRequest,
                                             WebhookPayload]))
# Documents of their own, versioned in their file name: a new version is a new file.
VERSIONED: dict[str, type[BaseModel]] = {
    f"SubjectAccessBundle.v{BUNDLE_VERSION}": SubjectAccessBundle}


def json_schemas() -> dict[str, dict[str, Any]]:
    return {**{m.__name__: m.model_json_schema() for m in MODELS},
            **{name: m.model_json_schema() for name, m in VERSIONED.items()}}


def asyncapi() -> dict[str, Any]:
    _, defs = models_json_schema([(m, "validation") for m in MODELS],
                                 ref_template="#/components/schemas/{model}")
    channels, operations, messages = {}, {}, {}
    for topic, (model, action, description) in CHANNELS.items():
        name = model.__name__
        channel_id = topic.replace(".", "_")
        messages[name] = {"name": name, "contentType": "application/json",
                          "payload": {"$ref": f"#/components/schemas/{name}"}}
        channels[channel_id] = {"address": topic, "description": description,
                                "messages": {name: {"$ref": f"#/components/messages/{name}"}}}
        operations[f"{action}_{channel_id}"] = {
            "action": action, "channel": {"$ref": f"#/channels/{channel_id}"}}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "clients pipeline", "version": "1.0.0",
                 "description": "Topics and payloads of the clients pipeline (JSON, UTF-8)."},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": defs["$defs"]},
    }


def openapi() -> dict[str, Any]:
    from services.edge.app import create_app  # the routes live with the edge; only read here

    document: dict[str, Any] = create_app().openapi()
    return document


def documents() -> dict[str, str]:
    docs = {f"{name}.json": body for name, body in json_schemas().items()}
    docs["asyncapi.json"] = asyncapi()
    docs["openapi.json"] = openapi()
    return {name: json.dumps(body, indent=2, sort_keys=True) + "\n" for name, body in docs.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    wanted = documents()
    if args.check:
        stale = [n for n, text in wanted.items()
                 if not (OUT / n).exists() or (OUT / n).read_text() != text]
        extra = sorted({p.name for p in OUT.glob("*.json")} - set(wanted))
        if stale or extra:
            print(f"out of date: {stale + extra}; run python -m schemas.generate", file=sys.stderr)
            return 1
        return 0
    OUT.mkdir(exist_ok=True)
    for p in OUT.glob("*.json"):
        if p.name not in wanted:
            p.unlink()
    for name, text in wanted.items():
        (OUT / name).write_text(text)
    print(f"wrote {len(wanted)} documents to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
