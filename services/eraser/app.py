from services.eraser.logic import run_eraser
from shared.runner import Service

SERVICE = Service("eraser", background=run_eraser)
