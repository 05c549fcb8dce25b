"""Every service `clients run` knows, by name. The one place that imports all of them."""

from services.edge.app import create_app
from shared.runner import Service

SERVICES: dict[str, Service] = {
    "edge": Service("edge", asgi=create_app),
}
