"""docker/: the compose file parses with a real compose client (Debian's docker-compose,
which .ci/run installs; no engine needed), wires twinql by settings twinql reads, and
the image is multi-stage, runs as a non-root user and checks its health on a route the
app serves. The health check command itself runs against the real app in
tests/api/test_docker_probe.py."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from api.settings import VARIABLES

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
SETTING_NAMES = {v.name for v in VARIABLES}


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        whole = pending + stripped
        pending = ""
        keyword, _, args = whole.partition(" ")
        out.append((keyword.upper(), args.strip()))
    return out


DOCKERFILE = dockerfile_instructions((DOCKER / "Dockerfile").read_text())


def final_stage() -> list[tuple[str, str]]:
    starts = [i for i, (keyword, _) in enumerate(DOCKERFILE) if keyword == "FROM"]
    return DOCKERFILE[starts[-1] :]


def healthcheck_command() -> list[str]:
    (args,) = [a for k, a in final_stage() if k == "HEALTHCHECK"]
    exec_form = args[args.index("CMD ") + 4 :].strip()
    command = json.loads(exec_form)
    assert isinstance(command, list) and all(isinstance(c, str) for c in command)
    return command


def _compose() -> str:
    binary = shutil.which("docker-compose")
    if binary is None:  # a missing checker must not pass as a skipped check
        pytest.fail("docker-compose is missing: .ci/run installs it (apt package docker-compose)")
    return binary


def _config(*args: str) -> dict[str, object]:
    # A clean environment: the file must parse with no TWINQL_* variable set.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWINQL_", "NEO4J_"))}
    done = subprocess.run(
        [_compose(), "-f", str(COMPOSE), *args, "config"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    assert isinstance(config, dict)
    return config


def _mounts(service: dict[str, object]) -> list[tuple[str, str, str]]:
    """(type, source, target) of each mount, from the short or the long syntax (compose
    clients print either)."""
    out = []
    for m in service.get("volumes", []):  # type: ignore[attr-defined]
        if isinstance(m, dict):
            out.append((m["type"], str(m["source"]), m["target"]))
        else:
            source, target = str(m).split(":")[:2]
            out.append(("bind" if source.startswith("/") else "volume", source, target))
    return out


def _host_ip(port: object) -> str:
    if isinstance(port, dict):
        return str(port.get("host_ip", ""))
    parts = str(port).split(":")
    return parts[0] if len(parts) == 3 else ""


def test_compose_file_validates_quietly() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINQL_")}
    for args in ([], ["--profile", "demo"]):
        done = subprocess.run(
            [_compose(), "-f", str(COMPOSE), *args, "config", "-q"],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr


def test_compose_wires_twinql_to_neo4j_questdb_and_mosquitto() -> None:
    services = _config()["services"]
    assert isinstance(services, dict)
    twinql = services["twinql"]
    env = twinql["environment"]
    assert set(env) <= SETTING_NAMES, set(env) - SETTING_NAMES  # no misspelt setting
    assert env["TWINQL_NEO4J_URI"] == "bolt://neo4j:7687"
    assert env["TWINQL_QUESTDB_URL"] == "http://questdb:9000"
    assert env["TWINQL_MQTT_URL"] == "mqtt://mosquitto:1883"
    assert env["TWINQL_ANONYMOUS_READ"] == "false"
    # Start order: the graph and the broker healthy, QuestDB started (writes spill meanwhile).
    assert twinql["depends_on"] == {
        "neo4j": {"condition": "service_healthy"},
        "questdb": {"condition": "service_started"},
        "mosquitto": {"condition": "service_healthy"},
    }
    for name in ("neo4j", "mosquitto"):
        assert services[name]["healthcheck"]["test"], name
    # Each stateful service keeps its data in a named volume.
    for name, target in (
        ("neo4j", "/data"), ("questdb", "/var/lib/questdb"),
        ("mosquitto", "/mosquitto/data"), ("twinql", "/data"),
    ):  # fmt: skip
        assert ("volume", target) in [(t, tgt) for t, _, tgt in _mounts(services[name])], name
    # The broker's configuration is the one in docker/ (persistence, queue limits).
    (conf,) = [src for t, src, _ in _mounts(services["mosquitto"]) if t == "bind"]
    assert Path(conf) == DOCKER / "mosquitto.conf"
    # The same password reaches Neo4j and twinql.
    neo4j_auth = services["neo4j"]["environment"]["NEO4J_AUTH"]
    assert neo4j_auth == "neo4j/" + env["TWINQL_NEO4J_PASSWORD"]


def test_the_demo_profile_runs_twinql_on_its_embedded_defaults() -> None:
    services = _config("--profile", "demo")["services"]
    assert isinstance(services, dict)
    demo = services["demo"]
    assert demo["profiles"] == ["demo"]
    assert demo["command"] == ["demo"]
    assert not {"TWINQL_NEO4J_URI", "TWINQL_QUESTDB_URL", "TWINQL_MQTT_URL"} & set(
        demo.get("environment", {})
    )
    assert "depends_on" not in demo
    assert set(demo.get("environment", {})) <= SETTING_NAMES
    (port,) = demo["ports"]
    assert _host_ip(port) == "127.0.0.1"  # anonymous reads: published on loopback only
    for other in ("neo4j", "questdb", "mosquitto", "twinql"):
        assert "profiles" not in services[other]


def test_image_is_multi_stage_and_runs_as_a_non_root_user() -> None:
    froms = [a for k, a in DOCKERFILE if k == "FROM"]
    assert len(froms) >= 2 and re.search(r"\bAS build\b", froms[0], re.I)
    final = final_stage()
    assert any(re.search(r"\bfrom=build\b", a) for k, a in final if k in ("RUN", "COPY"))
    users = [a for k, a in final if k == "USER"]
    assert users, "the runtime stage sets no USER: the container would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    # The user is created in the image with that id.
    assert any(f"--uid {user}" in a for k, a in final if k == "RUN")


def test_image_declares_its_data_volume_health_check_and_settings() -> None:
    final = final_stage()
    env = " ".join(a for k, a in final if k == "ENV")
    settings = dict(re.findall(r"(TWINQL_\w+)=(\S+)", env))
    assert set(settings) <= SETTING_NAMES
    (volume,) = [json.loads(a) for k, a in final if k == "VOLUME"]
    assert volume == [settings["TWINQL_DATA_DIR"]]
    assert settings["TWINQL_HOST"] == "0.0.0.0"
    command = healthcheck_command()
    assert command[0] == "python"
    assert "/healthz" in command[-1]  # a route api/app.py serves (the probe test runs it)
    ((args,),) = [[a] for k, a in final if k == "HEALTHCHECK"]
    assert re.search(r"--start-period=\d+s", args)
