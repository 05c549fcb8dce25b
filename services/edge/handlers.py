"""Thin HTTP handlers: read the request, call the logic, shape the response."""

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from services.edge import callbacks, health, integrations
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


async def upsert_client(request: Request) -> JSONResponse:
    answer = await integrations.upsert_client(deps_of(request),
                                              request.headers.get("authorization"),
                                              await request.body())
    return JSONResponse(answer.body, status_code=answer.status)


async def resend_callback(request: Request) -> JSONResponse:
    answer = await callbacks.resend(deps_of(request), dict(request.headers),
                                    await request.body())
    return JSONResponse(answer.body, status_code=answer.status)


async def sendblue_callback(request: Request) -> JSONResponse:
    answer = await callbacks.sendblue(deps_of(request), dict(request.headers),
                                      await request.body())
    return JSONResponse(answer.body, status_code=answer.status)
