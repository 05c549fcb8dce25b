from services.attestations.handlers import router
from shared.runner import Service

SERVICE = Service("attestations", routers=lambda deps: [router(deps)])
