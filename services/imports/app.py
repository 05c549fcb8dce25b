from services.imports.handlers import router
from shared.runner import Service

SERVICE = Service("imports", routers=lambda deps: [router(deps)])
