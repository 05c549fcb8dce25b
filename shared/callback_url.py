"""SendBlue's per-send status callback URL, the credential its callbacks carry.

SendBlue documents the `sb-signing-secret` header for the webhooks configured on the account
(receive, outbound), not for the `status_callback` URL given with each send. So each send gets a
URL of its own, `/callbacks/sendblue/status/{message_id}/{token}` with token = HMAC-SHA256 of the
message id under CALLBACK_URL_SECRET (URL-safe base64): unguessable, good for one message only,
checked in constant time. An empty secret refuses them all, like every other empty secret here.
"""

import base64
import hashlib
import hmac

STATUS_PATH = "/callbacks/sendblue/status"


def status_token(secret: str, message_id: str) -> str:
    digest = hmac.new(secret.encode(), message_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def status_callback_url(base_url: str, secret: str, message_id: str) -> str:
    return f"{base_url}{STATUS_PATH}/{message_id}/{status_token(secret, message_id)}"


def verify_status_token(secret: str, message_id: str, token: str) -> bool:
    if not secret:
        return False
    return hmac.compare_digest(status_token(secret, message_id).encode(),
                               token.encode("utf-8", "surrogatepass"))
