"""Thin HTTP handlers: read the request, call the logic, shape the response."""

from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from services.edge import callbacks, health, integrations
from services.edge.integrations import Answer
from shared.resources import Deps


def deps_of(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


async def healthz(request: Request) -> JSONResponse:
    checks = await health.check(deps_of(request))
    ok = all(checks.values())
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks},
                        status_code=200 if ok else 503)


async def metrics(request: Request) -> Response:
    return Response(generate_latest(deps_of(request).registry),
                    media_type=CONTENT_TYPE_LATEST)


async def read_body(request: Request, limit: int) -> bytes | Answer:
    """The body, or 413 as soon as it is known to be over `limit` bytes: a declared length is
    refused before anything is read, a streamed one when the limit is passed."""
    too_large = Answer(413, {"error": f"request body larger than {limit} bytes"})
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return too_large
    return bytes(body)


def respond(answer: Answer) -> JSONResponse:
    return JSONResponse(answer.body, status_code=answer.status)


async def upsert_client(request: Request) -> JSONResponse:
    """Authenticate (401), then the media type (415), then the body's size (413), then read."""
    deps = deps_of(request)
    identity = await integrations.authenticate_request(deps,
                                                       request.headers.get("authorization"))
    if isinstance(identity, Answer):
        return respond(identity)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        return respond(Answer(415, {"error": "Content-Type must be application/json"}))
    return await _with_body(request, lambda deps, body: integrations.upsert_client(
        deps, identity, body))


async def _with_body(request: Request,
                     call: Callable[[Deps, bytes], Awaitable[Answer]]) -> JSONResponse:
    """Read the body within the cap (413), then answer with `call`."""
    deps = deps_of(request)
    body = await read_body(request, deps.settings.http_max_body_bytes)
    return respond(body if isinstance(body, Answer) else await call(deps, body))


async def resend_callback(request: Request) -> JSONResponse:
    return await _with_body(request, lambda deps, body: callbacks.resend(
        deps, dict(request.headers), body))


async def sendblue_callback(request: Request) -> JSONResponse:
    return await _with_body(request, lambda deps, body: callbacks.sendblue(
        deps, dict(request.headers), body))


async def sendblue_status(request: Request) -> JSONResponse:
    return await _with_body(request, lambda deps, body: callbacks.sendblue_status(
        deps, request.path_params["message_id"], request.path_params["token"], body))
