"""What ``graph.redact`` masks in endpoints, messages and settings (pure)."""

from __future__ import annotations

import logging

import pytest

from graph.redact import RedactSecrets, is_secret_setting, redact_settings, redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("opc.tcp://user:pw@10.0.0.5:4840/ua", "opc.tcp://user:***@10.0.0.5:4840/ua"),
        ("mqtt://plant:s3cr%40t@broker:1883", "mqtt://plant:***@broker:1883"),
        ("mqtts://:only-a-password@broker", "mqtts://:***@broker"),
        ("mqtt://p:a@b@c:1883/t", "mqtt://p:***@c:1883/t"),
        ("https://api.example/v1?token=abc&site=a", "https://api.example/v1?token=***&site=a"),
        ("http://h/x?apiKey=k1;password=p2", "http://h/x?apiKey=***;password=***"),
        ("opc.tcp://10.0.0.5:4840", "opc.tcp://10.0.0.5:4840"),
        ("mqtt://user@broker:1883", "mqtt://user@broker:1883"),
        ("modbus://127.0.0.1:5020", "modbus://127.0.0.1:5020"),
        ("http://host:8080/a@b", "http://host:8080/a@b"),
    ],
)
def test_endpoints_keep_everything_but_the_secret(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_messages_mask_every_url_in_them() -> None:
    text = "connect to mqtt://u:pw1@a:1 failed, then opc.tcp://v:pw2@b:2 refused (contact a@b)"
    assert redact_text(text) == (
        "connect to mqtt://u:***@a:1 failed, then opc.tcp://v:***@b:2 refused (contact a@b)"
    )


@pytest.mark.parametrize(
    "name", ["password", "auth_header", "Authorization", "apiKey", "basicAuth", "cookie", "pass"]
)
def test_secret_setting_names(name: str) -> None:
    assert is_secret_setting(name)


@pytest.mark.parametrize("name", ["keepalive", "author", "passive", "username", "unit", "qos"])
def test_ordinary_setting_names(name: str) -> None:
    assert not is_secret_setting(name)


def test_settings_drop_secrets_and_mask_urls() -> None:
    settings = {
        "auth_header": "Bearer xyz",
        "username": "plc",
        "headers": {"Authorization": "Basic abc", "Accept": "json"},
        "fallback": "mqtt://u:pw@backup:1883",
    }
    assert redact_settings(settings) == {
        "username": "plc",
        "headers": {"Accept": "json"},
        "fallback": "mqtt://u:***@backup:1883",
    }


def test_the_log_filter_masks_formatted_messages() -> None:
    record = logging.LogRecord(
        "t", logging.INFO, __file__, 1, "source %s at %s", ("s1", "mqtt://u:pw@h"), None
    )
    assert RedactSecrets().filter(record)
    assert record.getMessage() == "source s1 at mqtt://u:***@h"
