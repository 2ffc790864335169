"""The deployment files: compose.yaml and the Dockerfile keep the promises the README makes.

There is no Docker daemon where the suite runs, so these read the files as Compose and
Docker do (YAML with merge keys, Dockerfile instructions) and check what a user would meet.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT

COMPOSE = yaml.safe_load((REPO_ROOT / "compose.yaml").read_text(encoding="utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
TGPIPE = {name: service for name, service in SERVICES.items() if name != "db"}


def test_the_image_is_built_once_and_used_by_every_tgpipe_service() -> None:
    builders = [name for name, service in SERVICES.items() if "build" in service]
    assert builders == ["migrate"]
    assert {service["image"] for service in TGPIPE.values()} == {"tgpipe:local"}
    # The other service must never look for that image in a registry.
    assert SERVICES["tgpipe"]["pull_policy"] == "never"


@pytest.mark.parametrize("name", sorted(TGPIPE))
def test_a_missing_token_or_env_file_stops_compose_with_a_message(name: str) -> None:
    service = TGPIPE[name]
    assert service["env_file"] == ".env"  # short syntax: required, in every Compose v2
    token = service["environment"]["TGPIPE_BOT_TOKEN"]
    # ${VAR:?message}: `docker compose up` refuses to start and prints the message.
    assert re.fullmatch(r"\$\{TGPIPE_BOT_TOKEN:\?set TGPIPE_BOT_TOKEN in \.env[^}]*\}", token)


def test_no_anonymous_volume() -> None:
    named = set(COMPOSE.get("volumes", {}))
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            source, _, target = volume.partition(":")
            assert target, f"anonymous volume {volume!r}"
            assert source.startswith(("./", "/")) or source in named, volume
    instructions = [
        line.split(maxsplit=1)[0].upper()
        for line in (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    # A VOLUME would give every container one, PostgreSQL-backed ones too.
    assert "VOLUME" not in instructions


def test_migrations_run_before_the_bot_and_after_the_database_is_up() -> None:
    assert SERVICES["migrate"]["command"] == ["tgpipe", "db", "upgrade"]
    assert SERVICES["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    condition = SERVICES["tgpipe"]["depends_on"]["migrate"]["condition"]
    assert condition == "service_completed_successfully"
    urls = {service["environment"]["TGPIPE_DATABASE_URL"] for service in TGPIPE.values()}
    assert urls == {"postgresql://tgpipe:tgpipe@db:5432/tgpipe"}
