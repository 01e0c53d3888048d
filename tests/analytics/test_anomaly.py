"""Anomaly detectors: a constant signal is no anomaly, a departing sensor is, and is
named; models survive a round trip through bytes and refuse a foreign format."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sklearn

from analytics.anomaly import (
    MAGIC,
    AnomalyModel,
    ModelFormatMismatch,
    assess_anomaly,
    score_windows,
    train_anomaly_model,
)
from analytics.features import WindowFeatures, series_features
from analytics.residual import assess_residual, train_residual_model
from graph.errors import ValidationError

S = 1_000_000
IDS = ("temp", "vib")


def readings(hours: int, seed: int = 0, drift_from_h: float | None = None) -> WindowFeatures:
    rng = np.random.default_rng(seed)
    ts = np.arange(hours * 60, dtype=np.int64) * 60 * S  # one a minute
    t_h = ts / 3.6e9
    temp = 40 + 2 * np.sin(2 * np.pi * t_h / 24) + rng.normal(0, 0.3, len(ts))
    vib = 1.5 + rng.normal(0, 0.1, len(ts))
    if drift_from_h is not None:
        vib = vib + np.clip(t_h - drift_from_h, 0, None) * 0.2
    return series_features([(ts, temp), (ts, vib)], window_s=3600, step_s=1800)


def test_constant_signal_is_no_anomaly() -> None:
    ts = np.arange(48 * 60, dtype=np.int64) * 60 * S
    f = series_features([(ts, np.full(len(ts), 40.0)), (ts, np.full(len(ts), 1.5))],
                        window_s=3600, step_s=1800)  # fmt: skip
    m = train_anomaly_model(f, asset_id="p1", sensor_ids=IDS)
    r = assess_anomaly(m, f)
    assert r is not None and r.score == 0.0 and not r.anomalous
    assert np.all(score_windows(m, f) == 0.0)
    assert all(share == 0 for _, share in r.contributions)


def test_healthy_windows_score_low_and_a_drift_is_flagged_on_its_sensor() -> None:
    train = readings(72)
    m = train_anomaly_model(train, asset_id="p1", sensor_ids=IDS)
    assert m.metrics.n_windows == train.n_windows and m.metrics.n_skipped == 0
    later = readings(120, seed=1, drift_from_h=96)
    s = score_windows(m, later)
    healthy = later.ends_us <= 90 * 3.6e9
    assert np.mean(s[healthy] >= 0.99) < 0.1  # scores of new healthy windows
    assert np.all((s >= 0) & (s <= 1))
    r = assess_anomaly(m, later)
    assert r is not None and r.anomalous and r.score == 1.0
    assert r.contributions[0][0] == "vib" and r.contributions[0][1] > 0.5
    assert r.window_end_us == int(later.ends_us[-1]) and r.n_windows == 5
    quiet = assess_anomaly(m, later.select(later.ends_us <= 90 * 3.6e9))
    assert quiet is not None and not quiet.anomalous


def test_model_round_trips_through_bytes() -> None:
    f = readings(72)
    m = train_anomaly_model(f, asset_id="p1", sensor_ids=IDS, seed=3)
    back = AnomalyModel.from_bytes(m.to_bytes())
    assert back.header() == m.header()
    assert back.sklearn_version == sklearn.__version__
    later = readings(120, seed=1, drift_from_h=96)
    np.testing.assert_array_equal(score_windows(back, later), score_windows(m, later))


def _with_header(blob: bytes, **change: object) -> bytes:
    at = len(MAGIC)
    size = int.from_bytes(blob[at : at + 4], "big")
    head = json.loads(blob[at + 4 : at + 4 + size])
    head.update(change)
    new = json.dumps(head).encode()
    return MAGIC + len(new).to_bytes(4, "big") + new + blob[at + 4 + size :]


def test_a_foreign_format_or_sklearn_version_is_refused_with_a_code() -> None:
    blob = train_anomaly_model(readings(72), asset_id="p1", sensor_ids=IDS).to_bytes()
    with pytest.raises(ModelFormatMismatch) as err:
        AnomalyModel.from_bytes(_with_header(blob, sklearn="0.0.1"))
    assert err.value.code == "CONFLICT" and err.value.details["sklearn"] == "0.0.1"
    with pytest.raises(ModelFormatMismatch):
        AnomalyModel.from_bytes(_with_header(blob, format=99))
    with pytest.raises(ValidationError):
        AnomalyModel.from_bytes(b"not a model")
    with pytest.raises(ValidationError):
        AnomalyModel.from_bytes(blob[:-40])


def test_too_few_windows_or_wrong_sensors_are_refused() -> None:
    f = readings(4)
    with pytest.raises(ValidationError):
        train_anomaly_model(f, asset_id="p1", sensor_ids=IDS)
    with pytest.raises(ValidationError):
        train_anomaly_model(readings(72), asset_id="p1", sensor_ids=("one",))


def test_physics_residual_flags_a_departure_from_the_simulation() -> None:
    rng = np.random.default_rng(5)
    sim = np.column_stack([np.linspace(40, 60, 500), np.full(500, 1.5)])
    healthy = sim + rng.normal(0, [0.3, 0.05], sim.shape)
    model = train_residual_model(IDS, healthy, sim)
    same = assess_residual(model, sim + rng.normal(0, [0.3, 0.05], sim.shape), sim)
    assert not same.anomalous and same.score < 0.99
    worn = sim + rng.normal(0, [0.3, 0.05], sim.shape) + [0.0, 0.5]
    r = assess_residual(model, worn, sim)
    assert r.anomalous and r.score > 0.999
    assert r.contributions[0][0] == "vib" and dict(r.z)["vib"] > 9
    with pytest.raises(ValidationError):
        assess_residual(model, worn[:, :1], sim)
