"""structlog: JSON lines in production (no TTY), a readable console on a terminal.

Every line goes through one formatter, ours and the libraries' alike (aiokafka's rebalances and
"Heartbeat failed", FastStream's errors, uvicorn's): with LOG_FORMAT=json each line is one JSON
object, and `pck_…` tokens are redacted from all of them. A library line that repeats (a broker
that is down makes aiokafka say so on every reconnect) is let through once per 30 s per message,
with the number held back.

Handlers bind per-message context with `structlog.contextvars.bound_contextvars(...)`.
"""

import logging
import sys
import time

import structlog

from shared.redact import RedactingText
from shared.settings import Settings

# Our own loggers log at LOG_LEVEL; the libraries' at WARNING (DEBUG if LOG_LEVEL is DEBUG).
OWN_LOGGERS = ("services", "shared", "schemas", "bench", "tests")
REPEAT_WINDOW_S = 30.0


class RepeatFilter(logging.Filter):
    """Lets a library's recurring line (same logger, same message template) through once per
    window, noting how many were held back since."""

    def __init__(self, window_s: float = REPEAT_WINDOW_S) -> None:
        super().__init__()
        self.window_s = window_s
        self.seen: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".", 1)[0] in OWN_LOGGERS:
            return True
        key = (record.name, str(record.msg))
        now = time.monotonic()
        last, held = self.seen.get(key, (-self.window_s, 0))
        if now - last < self.window_s:
            self.seen[key] = (last, held + 1)
            return False
        if len(self.seen) > 1000:
            self.seen.clear()
        self.seen[key] = (now, 0)
        if held:
            record.repeated = held
        return True


def configure_logging(settings: Settings) -> None:
    as_json = settings.log_format == "json" or (
        settings.log_format == "auto" and not sys.stderr.isatty()
    )
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    level = logging.getLevelNamesMapping()[settings.log_level]
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(allow=["repeated"]),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.StackInfoRenderer(),
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, RedactingText(), renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(RepeatFilter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level if level <= logging.DEBUG else logging.WARNING)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(level)
    route_faststream_logs()


def route_faststream_logs() -> None:
    """FastStream gives its logger a coloured handler of its own, and stops it propagating, when
    it is first imported: ours (the root's) must be the only one. Called here and again when a
    broker is made, as a command imports FastStream only once it runs services, after logging
    was configured (test_outage.py found its plain-text lines among the JSON)."""
    for name in ("faststream", "faststream.access", "faststream.access.kafka"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
