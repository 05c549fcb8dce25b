"""The edge's ASGI app factory. Resources come in through `deps`; nothing is built here.

FastAPI serves `/v1` (and describes it at /openapi.json, generated from schemas/api.py); the
Integration API, provider callbacks, health and metrics are plain routes that read their raw
bodies themselves (signatures, size caps, their own error shapes)."""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from schemas.api import Problem
from schemas.common import FieldError
from services.edge import api, handlers
from services.edge.guard import ApiGuard
from shared.callback_url import STATUS_PATH
from shared.normalize import bounded_errors
from shared.resources import Deps
from shared.runner import Service

TITLE = "Clients API"
VERSION = "1"


def create_app(deps: Deps | None = None) -> FastAPI:
    """The app; `deps` is None only to generate the OpenAPI document."""
    app = FastAPI(title=TITLE, version=VERSION, docs_url=None, redoc_url=None,
                  description="A store's clients: find, read, change, tag, archive, export. "
                  "Bearer tokens: members (pck_usr_, scopes by role) and public keys "
                  "(pck_pub_, clients:read).")
    # The hot plain routes first: Starlette tries routes in order, and the /v1 API's ~55 routes
    # in front cost the Integration API 0.4 ms a request in matching (cProfile, bench/http.py).
    for path, handler, method in (
            ("/integrations/v1/clients", handlers.upsert_client, "POST"),
            ("/callbacks/sendblue", handlers.sendblue_callback, "POST"),
            ("/callbacks/resend", handlers.resend_callback, "POST"),
            (STATUS_PATH + "/{message_id}/{token}", handlers.sendblue_status, "POST"),
            ("/healthz", handlers.healthz, "GET"), ("/metrics", handlers.metrics, "GET")):
        app.add_route(path, handler, methods=[method], include_in_schema=False)
    app.include_router(api.router)
    app.add_exception_handler(api.ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_middleware(ApiGuard)
    app.state.deps = deps
    return app


async def _api_error(_: Request, e: api.ApiError) -> JSONResponse:
    return JSONResponse(e.problem.model_dump(mode="json", exclude_none=True),
                        status_code=e.status)


async def _http_error(_: Request, e: HTTPException) -> JSONResponse:
    return JSONResponse(Problem(error=str(e.detail)).model_dump(mode="json", exclude_none=True),
                        status_code=e.status_code, headers=e.headers)


async def _invalid(_: Request, e: RequestValidationError) -> JSONResponse:
    errors = [FieldError(field=".".join(str(p) for p in err["loc"][1:]) or str(err["loc"][0]),
                         message=str(err["msg"])) for err in e.errors()]
    problem = Problem(error="the request is not valid", errors=bounded_errors(errors))
    return JSONResponse(problem.model_dump(mode="json", exclude_none=True), status_code=422)


SERVICE = Service("edge", asgi=create_app)
