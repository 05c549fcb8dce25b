from services.ingest.handlers import router
from shared.runner import Service

SERVICE = Service("ingest", routers=lambda deps: [router(deps)])
