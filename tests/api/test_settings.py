"""Settings from the environment (pure: an explicit mapping, no os.environ)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.settings import Settings
from graph.errors import ValidationError


def test_defaults_are_the_embedded_service_on_loopback() -> None:
    s = Settings.from_env({})
    assert (s.data_dir, s.host, s.port) == (Path(".twinql"), "127.0.0.1", 8000)
    assert s.neo4j_uri is None and s.questdb_url is None and s.mqtt_url is None
    assert s.instance_id is None
    # two processes on one host differ by their API port
    assert s.effective_instance_id.endswith("-8000")
    assert Settings.from_env({"TWINQL_PORT": "8001"}).effective_instance_id.endswith("-8001")
    assert not s.allow_anonymous_read  # only when enabled explicitly
    assert Settings.from_env({"TWINQL_ANONYMOUS_READ": "true"}).allow_anonymous_read


def test_variables_are_read_and_overrides_win() -> None:
    env = {
        "TWINQL_DATA_DIR": "/srv/twin",
        "TWINQL_HOST": "0.0.0.0",
        "TWINQL_PORT": "9000",
        "TWINQL_NEO4J_URI": "neo4j://graph:7687",
        "TWINQL_MQTT_URL": "mqtt://broker:1883",
        "TWINQL_INSTANCE_ID": "twin-a",
        "TWINQL_ANONYMOUS_READ": "no",
        "TWINQL_MAX_COST": "5000",
        "TWINQL_RESYNC_S": "0",
    }
    s = Settings.from_env(env, port=9100)
    assert (s.data_dir, s.host, s.port) == (Path("/srv/twin"), "0.0.0.0", 9100)
    assert (s.neo4j_uri, s.mqtt_url, s.instance_id) == (
        "neo4j://graph:7687",
        "mqtt://broker:1883",
        "twin-a",
    )
    assert s.effective_instance_id == "twin-a"
    assert (s.allow_anonymous_read, s.max_cost, s.resync_s) == (False, 5000, 0.0)
    assert not Settings.from_env({"TWINQL_HOST": "0.0.0.0"}).allow_anonymous_read


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TWINQL_PORT": "eighty"}, "TWINQL_PORT must be an integer"),
        ({"TWINQL_ANONYMOUS_READ": "maybe"}, "TWINQL_ANONYMOUS_READ must be true or false"),
        ({"TWINQL_RESYNC_S": "-5"}, "TWINQL_RESYNC_S must be 0 or more seconds"),
        ({"TWINQL_RESYNC_S": "soon"}, "TWINQL_RESYNC_S must be a number of seconds"),
    ],
)
def test_bad_values_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings.from_env(env)
