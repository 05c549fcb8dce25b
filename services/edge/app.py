"""The edge's ASGI app factory. Resources come in through `deps`; nothing is built here."""

from starlette.applications import Starlette
from starlette.routing import Route

from services.edge import handlers
from shared.resources import Deps


def create_app(deps: Deps) -> Starlette:
    app = Starlette(routes=[
        Route("/healthz", handlers.healthz, methods=["GET"]),
        Route("/metrics", handlers.metrics, methods=["GET"]),
    ])
    app.state.deps = deps
    return app
