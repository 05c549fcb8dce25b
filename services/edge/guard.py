"""The `/v1` gate, before any route reads a byte of the body: the bearer token is a live member
or key (else 401), and the body stays within HTTP_MAX_BODY_BYTES (else 413). The principal is
left in the request's state; each route then asks for its scope (403) and looks ids up within
the principal's store only (404)."""

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.access import authenticate_token
from shared.resources import Deps

PREFIX = "/v1/"


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` header; None for any other."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _answer(send: Send, status: int, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


class ApiGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        deps: Deps = scope["app"].state.deps
        authorization = next((v for n, v in scope["headers"] if n == b"authorization"), b"")
        token = bearer(authorization.decode("latin-1"))
        principal = await authenticate_token(deps.pool, token) if token else None
        if principal is None:
            await _answer(send, 401, {"error": "missing, unknown or revoked token"})
            return
        scope.setdefault("state", {})["principal"] = principal
        limit = deps.settings.http_max_body_bytes
        too_large = {"error": f"request body larger than {limit} bytes"}
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _answer(send, 413, too_large)
            return
        seen = 0

        async def limited_receive() -> Message:
            """A streamed body past the cap: 413 (the route re-raises an HTTPException met
            while reading its body)."""
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, too_large["error"])
            return message

        await self.app(scope, limited_receive, send)
