"""Runs a set of services in one process until asked to stop.

Start: migrations (under their advisory lock) and topics, then the pool and the broker with every
selected service's routers, the services' background loops (the outbox relay), the analysis of
tables that got their first rows (shared/fresh_statistics.py), and the HTTP edge if selected.
Stop (SIGTERM/SIGINT, or `stop` set): the edge stops accepting, background loops finish their
round, the broker stops fetching and waits for in-flight batches (their offsets are committed as
they finish), then the pool closes. Nothing is left half-done.
"""

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
import uvicorn
from faststream.kafka import KafkaRouter
from starlette.types import ASGIApp

from shared import fresh_statistics
from shared.migrate import migrate
from shared.resources import Deps, open_deps
from shared.settings import Settings
from shared.topics import ensure_topics, project_topics

log = structlog.get_logger(__name__)


def _no_routers(deps: Deps) -> Sequence[KafkaRouter]:
    return ()


@dataclass(frozen=True)
class Service:
    name: str
    routers: Callable[[Deps], Sequence[KafkaRouter]] = field(default=_no_routers)
    asgi: Callable[[Deps], ASGIApp] | None = None
    # A loop that runs until the event is set, finishing its current round first.
    background: Callable[[Deps, asyncio.Event], Coroutine[Any, Any, None]] | None = None


class _EdgeServer(uvicorn.Server):
    """uvicorn without its own signal handling: the runner owns SIGTERM/SIGINT, so the broker
    is drained after the HTTP server stops instead of the process being re-signalled."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def prepare(settings: Settings) -> None:
    """Idempotent start-up work every process may do: migrate, then create or grow topics."""
    await migrate(settings.database_url)
    await ensure_topics(settings.kafka_bootstrap_servers, project_topics(settings))


async def run(settings: Settings, services: Sequence[Service], stop: asyncio.Event) -> None:
    names = [s.name for s in services]
    await prepare(settings)
    async with open_deps(settings) as deps:
        for service in services:
            for router in service.routers(deps):
                deps.broker.include_router(router)
        await deps.start()
        halt = asyncio.Event()  # told to the background loops once we are stopping
        loops = [asyncio.create_task(s.background(deps, halt), name=s.name)
                 for s in services if s.background is not None]
        loops.append(asyncio.create_task(fresh_statistics.keep_analyzed(deps.pool, halt),
                                         name="fresh statistics"))
        server = _edge_server(settings, deps, services)
        edge = asyncio.create_task(server.serve()) if server is not None else None
        stopping = asyncio.create_task(stop.wait())
        log.info("services started", services=names)
        # Anything but `stopping` finishing first is a failure: stop the rest and report it.
        await asyncio.wait([stopping, *loops, *([edge] if edge else [])],
                           return_when=asyncio.FIRST_COMPLETED)
        log.info("services stopping", services=names)
        stopping.cancel()
        halt.set()
        if server is not None:
            server.should_exit = True
        await asyncio.gather(*loops, *([edge] if edge else []))
        # Leaving open_deps stops the broker (draining in-flight handlers), then the pool.
    log.info("services stopped", services=names)


def _edge_server(settings: Settings, deps: Deps, services: Sequence[Service]) -> _EdgeServer | None:
    apps = [s.asgi(deps) for s in services if s.asgi is not None]
    if not apps:
        return None
    config = uvicorn.Config(apps[0], host=settings.http_host, port=settings.http_port,
                            log_config=None, access_log=False, lifespan="off")
    return _EdgeServer(config)
