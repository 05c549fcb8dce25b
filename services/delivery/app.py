"""SMS and email delivery, provider callbacks, and the inbox."""
from services.delivery.handlers import router
from services.delivery.senders import run_senders
from shared.runner import Service

SERVICE = Service("delivery", routers=lambda deps: [router(deps)], background=run_senders)
