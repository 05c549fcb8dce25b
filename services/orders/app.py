from services.orders.handlers import router
from services.orders.segments import run_segments
from shared.runner import Service

SERVICE = Service("orders", routers=lambda deps: [router(deps)], background=run_segments)
