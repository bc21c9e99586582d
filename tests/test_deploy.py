"""docker-compose.yml: the services the README describes, secrets only from the environment."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import ROOT

COMPOSE = ROOT / "docker-compose.yml"


def test_compose_has_the_services_and_no_inline_secret():
    spec = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services = spec["services"]
    assert set(services) == {"postgres", "migrate", "telegram", "discord", "relay"}
    assert "--webhook" in " ".join(services["telegram"]["command"]) and "replicas" in services["telegram"]["deploy"]
    assert services["discord"]["deploy"]["replicas"] == 1
    assert services["migrate"]["command"] == ["influbot", "migrate"] and services["relay"]["command"] == ["influbot", "relay"]
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"TOKEN|SECRET|PASSWORD", key):
                assert str(value).startswith("${"), f"{name}: {key} must come from the environment"
            if key == "INFLUBOT_DB":
                assert value.startswith("postgresql://") and "${POSTGRES_PASSWORD" in value


@pytest.mark.skipif(
    shutil.which("docker-compose") is None, reason="docker-compose is not installed (apt-get install docker-compose)"
)
def test_docker_compose_accepts_the_file():
    env = {
        **os.environ,
        "POSTGRES_PASSWORD": "x",
        "TELEGRAM_WEBHOOK_URL": "https://example.org/t",
        "TELEGRAM_WEBHOOK_SECRET": "s",
    }
    proc = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config", "-q"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
