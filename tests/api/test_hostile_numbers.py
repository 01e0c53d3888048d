"""Hostile JSON and durations get coded 400/VALIDATION answers, never a 500.

Reproduces issue 10 item 4: ``POST /ingest`` with 100,000-deep nesting or a
5,000-digit integer answered 500 and kept no dead letter; a JSON plant file with a
5,000-digit number gave the CLI a traceback and importPlant INTERNAL;
``readings(bucket: "1000000000000000000000000000000d")`` raised OverflowError.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api.readings.window import MAX_BUCKET, parse_bucket
from graph.errors import ValidationError
from tests.support.app import Api
from tests.support.tokens import INGEST

ROOT = Path(__file__).resolve().parents[2]
DIGITS = "7" * 5_000


async def post_ingest(api: Api, body: str, media: str = "application/json") -> Any:
    r = await api.client.post(
        "/ingest",
        content=body.encode(),
        headers={"Authorization": f"Bearer {INGEST}", "Content-Type": media},
    )
    return r


async def dead_letters(api: Api, since: datetime, marker: str) -> list[dict[str, str]]:
    await api.services.ingest.writer.flush()
    query = "query($t: DateTime) { rejectedReadings(since: $t, limit: 1000) { raw reason } }"
    for _ in range(50):
        rows = (await api.ok(query, {"t": since.isoformat()}))["rejectedReadings"]
        found = [r for r in rows if marker in r["raw"]]
        if found:
            return found
        await asyncio.sleep(0.1)
    return []


async def test_deep_nesting_is_a_400_with_a_dead_letter(api: Api, uid: str) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    body = '{"sensor_id": "%s", "value": %s}' % (uid, "[" * 100_000 + "]" * 100_000)
    r = await post_ingest(api, body)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == {
        "code": "VALIDATION",
        "message": "malformed JSON body: nested too deeply",
    }
    (letter,) = await dead_letters(api, since, uid)
    assert letter["reason"] == "malformed JSON body: nested too deeply"


async def test_a_5000_digit_integer_is_a_400_with_a_dead_letter(api: Api, uid: str) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    body = '[{"sensor_id": "%s", "value": %s}]' % (uid, DIGITS)
    r = await post_ingest(api, body)
    assert r.status_code == 400, r.text
    reason = f"malformed JSON body: a number has more than {sys.get_int_max_str_digits()} digits"
    assert r.json()["error"] == {"code": "VALIDATION", "message": reason}
    (letter,) = await dead_letters(api, since, uid)
    assert letter["reason"] == reason and DIGITS in letter["raw"]


async def test_ndjson_lines_with_hostile_json_are_rejected_one_by_one(api: Api, uid: str) -> None:
    lines = [
        '{"sensor_id": "%s-a", "value": %s}' % (uid, DIGITS),
        '{"sensor_id": "%s-b", "value": %s}' % (uid, "[" * 50_000 + "]" * 50_000),
    ]
    r = await post_ingest(api, "\n".join(lines), "application/x-ndjson")
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["accepted"], out["rejected"]) == (0, 2)
    assert [e["reason"] for e in out["errors"]] == [
        f"malformed JSON: a number has more than {sys.get_int_max_str_digits()} digits",
        "malformed JSON: nested too deeply",
    ]


def plant_with_a_huge_number() -> str:
    site = {"id": "huge-site", "name": "Huge", "level": "site", "lat": 1}
    return json.dumps({"name": "huge", "assets": [site]}).replace('"lat": 1', f'"lat": {DIGITS}')


def test_the_cli_check_reports_a_huge_number_with_a_code(tmp_path: Path) -> None:
    plant = tmp_path / "plant.json"
    plant.write_text(plant_with_a_huge_number())
    run = subprocess.run(
        [sys.executable, "-m", "api.cli", "load", "--check", str(plant)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    digits = sys.get_int_max_str_digits()
    assert run.stderr.startswith(
        f"twinql: VALIDATION: <root>: JSON: a number has more than {digits} digits"
    )


async def test_import_plant_refuses_a_huge_number_with_validation(api: Api) -> None:
    body = await api.gql(
        "mutation($d: String!) { importPlant(document: $d, format: JSON) { name } }",
        {"d": plant_with_a_huge_number()},
    )
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "VALIDATION"
    assert "a number has more than" in error["message"]


async def test_an_enormous_bucket_is_validation(api: Api) -> None:
    query = 'query($b: String) { readings(sensorIds: ["x"], bucket: $b) { timestamps } }'
    for bucket in ("1000000000000000000000000000000d", "1" * 400, "365251d"):
        (error,) = (await api.gql(query, {"b": bucket}))["errors"]
        assert error["extensions"]["code"] == "VALIDATION", error
        assert "longer than 365250 days (1000 years)" in error["message"]


@pytest.mark.parametrize("text", ["1000000000000000000000000000000d", "1" * 400, "52179w"])
def test_parse_bucket_bounds_buckets_to_1000_years(text: str) -> None:
    with pytest.raises(ValidationError, match="longer than 365250 days"):
        parse_bucket(text)


def test_parse_bucket_takes_up_to_1000_years() -> None:
    assert parse_bucket("365250d") == MAX_BUCKET
    assert parse_bucket("15s") == timedelta(seconds=15)
