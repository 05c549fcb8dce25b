from services.commands.handlers import router
from shared.runner import Service

SERVICE = Service("commands", routers=lambda deps: [router(deps)])
