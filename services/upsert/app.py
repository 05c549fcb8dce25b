from services.upsert.handlers import router
from shared.runner import Service

SERVICE = Service("upsert", routers=lambda deps: [router(deps)])
