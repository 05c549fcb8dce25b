from services.relay.logic import run_relay
from shared.runner import Service

SERVICE = Service("relay", background=run_relay)
