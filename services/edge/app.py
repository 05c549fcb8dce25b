"""The edge's ASGI app factory. Resources come in through `deps`; nothing is built here."""

from starlette.applications import Starlette
from starlette.routing import Route

from services.edge import handlers
from shared.callback_url import STATUS_PATH
from shared.resources import Deps
from shared.runner import Service


def create_app(deps: Deps) -> Starlette:
    app = Starlette(routes=[
        Route("/healthz", handlers.healthz, methods=["GET"]),
        Route("/metrics", handlers.metrics, methods=["GET"]),
        Route("/integrations/v1/clients", handlers.upsert_client, methods=["POST"]),
        Route("/callbacks/resend", handlers.resend_callback, methods=["POST"]),
        Route("/callbacks/sendblue", handlers.sendblue_callback, methods=["POST"]),
        Route(STATUS_PATH + "/{message_id}/{token}", handlers.sendblue_status, methods=["POST"]),
    ])
    app.state.deps = deps
    return app


SERVICE = Service("edge", asgi=create_app)
