"""The command line loads what a command needs: every service by name when it runs, and no
service's runtime (FastAPI and the edge's app, FastStream, aiohttp, the workers' handlers) to
parse a subcommand."""

import subprocess
import sys

import pytest

from services import registry


@pytest.mark.parametrize("name", sorted(registry.APPS))
def test_every_service_loads_under_its_name(name: str) -> None:
    assert registry.service(name).name == name


def test_building_the_command_line_imports_no_service_runtime() -> None:
    probe = ("import sys; from services.cli import _parser; _parser(); "
             "print(' '.join(m for m in sys.modules if m in ("
             "'fastapi', 'faststream', 'aiohttp', 'services.edge.app', 'services.upsert.handlers', "
             "'services.imports.handlers', 'services.webhooks.dispatch')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == []
