"""POST /callbacks/resend and /callbacks/sendblue: only genuine callbacks get in.

Resend signs with Svix (svix-id, svix-timestamp, svix-signature; a whsec_ secret; 5 minutes of
tolerance): verified with the maintained `standardwebhooks` library, which implements the same
scheme under the webhook-* header names. SendBlue's account webhooks (receive, outbound) carry
the configured secret in sb-signing-secret: compared in constant time. Its per-send status
callbacks carry no header: they come to the URL we gave with the send, whose token is checked
instead (shared/callback_url.py). A genuine callback is published raw to
`delivery.callbacks.v1`, acked by Kafka, then answered 200; anything else is 401 and nothing is
published. The delivery service does the rest.
"""

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from schemas.messages import ProviderCallback
from services.edge.integrations import Answer
from shared.callback_url import verify_status_token
from shared.publish import publish_keyed
from shared.redact import redact_json
from shared.resources import Deps
from shared.topics import DELIVERY_CALLBACKS

UNAUTHORIZED = Answer(401, {"error": "signature does not verify"})


def _json_object(raw: bytes) -> dict[str, Any] | None:
    """The callback's JSON object, tokens redacted (it is kept: the topic, the callback log), or
    None when it is not one we can keep (not JSON, too deep, lone surrogates)."""
    try:
        body = json.loads(raw)
        if not isinstance(body, dict):
            return None
        json.dumps(body, ensure_ascii=False).encode()
        return dict(redact_json(body))
    except (ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        return None


async def resend(deps: Deps, headers: dict[str, str], raw: bytes) -> Answer:
    secret = deps.settings.resend_webhook_secret
    svix_id = headers.get("svix-id", "")
    if not secret:
        return UNAUTHORIZED
    try:
        Webhook(secret).verify(raw, {"webhook-id": svix_id,
                                     "webhook-timestamp": headers.get("svix-timestamp", ""),
                                     "webhook-signature": headers.get("svix-signature", "")})
    except (WebhookVerificationError, ValueError):
        return UNAUTHORIZED
    body = _json_object(raw)
    if body is None:
        return Answer(400, {"error": "not a JSON object"})
    return await _publish(deps, ProviderCallback(
        provider="resend", callback_key=svix_id, received_at=datetime.now(UTC), payload=body))


async def sendblue(deps: Deps, headers: dict[str, str], raw: bytes) -> Answer:
    """An account webhook (receive, outbound): the shared secret in sb-signing-secret."""
    secret = deps.settings.sendblue_signing_secret.encode()
    given = headers.get("sb-signing-secret", "").encode()
    if not secret or not hmac.compare_digest(given, secret):
        return UNAUTHORIZED
    return await _sendblue_callback(deps, raw)


async def sendblue_status(deps: Deps, message_id: str, token: str, raw: bytes) -> Answer:
    """A send's own status_callback: the URL's token is the credential."""
    if not verify_status_token(deps.settings.callback_url_secret, message_id, token):
        return UNAUTHORIZED
    return await _sendblue_callback(deps, raw)


async def _sendblue_callback(deps: Deps, raw: bytes) -> Answer:
    body = _json_object(raw)
    if body is None:
        return Answer(400, {"error": "not a JSON object"})
    return await _publish(deps, ProviderCallback(
        provider="sendblue", callback_key=hashlib.sha256(raw).hexdigest(),
        received_at=datetime.now(UTC), payload=body))


async def _publish(deps: Deps, callback: ProviderCallback) -> Answer:
    await publish_keyed(deps.producer, DELIVERY_CALLBACKS, [(callback.partition_key, callback)])
    return Answer(200, {"received": True})
