from collections.abc import AsyncIterator

import httpx
import pytest

from services.edge.app import create_app
from shared.resources import Deps, open_deps
from shared.settings import Settings
from tests.conftest import free_port


@pytest.fixture
async def deps(settings: Settings) -> AsyncIterator[Deps]:
    async with open_deps(settings) as deps:
        await deps.start()
        yield deps


def client_for(deps: Deps) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(deps)),
                             base_url="http://edge")


async def test_healthz_is_ok_when_broker_and_database_answer(deps: Deps) -> None:
    async with client_for(deps) as http:
        response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": True, "broker": True}}


async def test_healthz_is_503_naming_what_is_down(settings: Settings) -> None:
    dead = settings.model_copy(update={
        "database_url": f"postgresql://clients@127.0.0.1:{free_port()}/clients",
        "kafka_bootstrap_servers": f"127.0.0.1:{free_port()}",
        "db_pool_min_size": 0, "health_timeout_s": 0.5})
    async with open_deps(dead) as deps, client_for(deps) as http:
        response = await http.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": False, "broker": False}


async def test_metrics_are_prometheus_text(deps: Deps) -> None:
    async with client_for(deps) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "faststream_received_messages_total" in response.text
