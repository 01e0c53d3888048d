"""Per-asset anomaly detection: StandardScaler + IsolationForest on window features.

Contract: ``train_anomaly_model(features, asset_id=, sensor_ids=) -> AnomalyModel`` on a
healthy window's ``WindowFeatures``; ``score_windows(model, features) -> np.ndarray`` and
``assess_anomaly(model, features) -> AnomalyResult`` on later ones; ``model.to_bytes()``
and ``AnomalyModel.from_bytes(blob)`` carry it to and from an artifact. Pure.

**Score.** A window is measured two ways on its standardised features ``z``: its raw
anomaly, ``-IsolationForest.score_samples`` (higher = easier to isolate: an unusual
*combination*), and its deviation, ``max |z|`` (how far one feature left its healthy
range, where the forest's score levels off: trees only split inside the training range).
The training windows get both out of fold (``n_folds`` scalers and forests, each fitted
without them), as a new healthy window would. A window's **score** is the larger of the
two shares of training windows strictly below it: the share of healthy training windows
less anomalous than this one. About uniform on [0, 1] for healthy windows, 1.0 beyond
every training window, 0 for a window like the training data (a constant signal scores
0). ``assess_anomaly`` takes the median score of the last ``last`` windows (one odd window
does not raise it) and calls the asset anomalous when it reaches ``threshold`` (0.99).

**Contributions** per sensor: the mean squared standardised deviation of that sensor's
features over the assessed windows, as shares summing to 1 (all 0 when nothing deviates).
They say which sensors move away from their healthy behaviour, not how the forest split.

**Artifacts.** ``to_bytes`` writes ``MAGIC``, a JSON header (format version, the
scikit-learn version, the metadata) and a pickle of the fitted scaler and forest.
``from_bytes`` refuses another format version or scikit-learn version with
``ModelFormatMismatch`` (code ``CONFLICT``: retrain the model) and anything malformed with
``ValidationError`` before unpickling. Pickle runs code on load: read only artifacts this
service wrote into its own data directory.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sklearn
from sklearn.ensemble import IsolationForest
from sklearn.preprocessing import StandardScaler

from analytics.features import FEATURES, WindowFeatures
from graph.errors import Conflict, ValidationError

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "MIN_TRAIN_WINDOWS",
    "AnomalyModel",
    "AnomalyResult",
    "ModelFormatMismatch",
    "TrainingMetrics",
    "assess_anomaly",
    "score_windows",
    "train_anomaly_model",
]

MAGIC = b"TWQLANOM"
FORMAT_VERSION = 1
MIN_TRAIN_WINDOWS = 10
_TIE = 1e-9


class ModelFormatMismatch(Conflict):
    """A stored model was written by another format or scikit-learn version: retrain it."""


@dataclass(frozen=True, slots=True)
class TrainingMetrics:
    """What the model was trained on: windows used and left out (incomplete), and the
    raw anomaly quantiles (5, 50, 95, 99 %) of the training windows."""

    n_windows: int
    n_skipped: int
    raw_quantiles: tuple[float, float, float, float]


@dataclass(frozen=True, slots=True, eq=False)
class AnomalyModel:
    """A trained detector with the metadata a caller records beside its artifact."""

    asset_id: str
    sensor_ids: tuple[str, ...]
    feature_names: tuple[str, ...]
    window_s: float
    step_s: float
    trained_from_us: int
    trained_to_us: int
    metrics: TrainingMetrics
    seed: int
    sklearn_version: str
    format_version: int
    scaler: StandardScaler = field(repr=False)
    forest: IsolationForest = field(repr=False)
    train_raw: np.ndarray = field(repr=False)  # sorted out-of-fold raw anomalies, training
    train_dev: np.ndarray = field(repr=False)  # sorted out-of-fold largest |z|, training

    def header(self) -> dict[str, Any]:
        """The JSON-safe metadata (what a graph node records about the model)."""
        m = self.metrics
        return {
            "format": self.format_version,
            "sklearn": self.sklearn_version,
            "assetId": self.asset_id,
            "sensorIds": list(self.sensor_ids),
            "features": list(self.feature_names),
            "windowS": self.window_s,
            "stepS": self.step_s,
            "trainedFromUs": self.trained_from_us,
            "trainedToUs": self.trained_to_us,
            "seed": self.seed,
            "metrics": {"nWindows": m.n_windows, "nSkipped": m.n_skipped,
                        "rawQuantiles": list(m.raw_quantiles)},
        }  # fmt: skip

    def to_bytes(self) -> bytes:
        head = json.dumps(self.header(), sort_keys=True).encode()
        body = pickle.dumps((self.scaler, self.forest, self.train_raw, self.train_dev), protocol=5)
        return MAGIC + len(head).to_bytes(4, "big") + head + body

    @classmethod
    def from_bytes(cls, blob: bytes) -> AnomalyModel:
        if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 4:
            raise ValidationError("not a twinql anomaly model artifact")
        at = len(MAGIC)
        size = int.from_bytes(blob[at : at + 4], "big")
        try:
            h = json.loads(blob[at + 4 : at + 4 + size])
            fmt, skl = h["format"], h["sklearn"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValidationError("anomaly model artifact has a malformed header") from exc
        if fmt != FORMAT_VERSION or skl != sklearn.__version__:
            raise ModelFormatMismatch(
                f"anomaly model written by format {fmt} / scikit-learn {skl}; this service "
                f"reads format {FORMAT_VERSION} / scikit-learn {sklearn.__version__}: retrain it",
                details={"format": fmt, "sklearn": skl, "expectedFormat": FORMAT_VERSION,
                         "expectedSklearn": sklearn.__version__},
            )  # fmt: skip
        try:
            scaler, forest, train_raw, train_dev = pickle.loads(blob[at + 4 + size :])  # noqa: S301
            m = h["metrics"]
            return cls(
                asset_id=h["assetId"], sensor_ids=tuple(h["sensorIds"]),
                feature_names=tuple(h["features"]), window_s=float(h["windowS"]),
                step_s=float(h["stepS"]), trained_from_us=int(h["trainedFromUs"]),
                trained_to_us=int(h["trainedToUs"]),
                metrics=TrainingMetrics(int(m["nWindows"]), int(m["nSkipped"]),
                                        tuple(float(q) for q in m["rawQuantiles"])),  # type: ignore[arg-type]
                seed=int(h["seed"]), sklearn_version=skl, format_version=fmt,
                scaler=scaler, forest=forest, train_raw=np.asarray(train_raw, dtype=float),
                train_dev=np.asarray(train_dev, dtype=float),
            )  # fmt: skip
        except (pickle.UnpicklingError, ValueError, KeyError, TypeError, EOFError) as exc:
            raise ValidationError("anomaly model artifact is corrupt") from exc


@dataclass(frozen=True, slots=True)
class AnomalyResult:
    """The assessment of the last windows: score in [0, 1] (see the module doc), whether
    it reaches the threshold, each sensor's share of the deviation, and the windows."""

    score: float
    anomalous: bool
    threshold: float
    contributions: tuple[tuple[str, float], ...]  # (sensor id, share), largest first
    window_start_us: int
    window_end_us: int
    n_windows: int


def _complete(features: WindowFeatures) -> tuple[np.ndarray, np.ndarray]:
    x = features.matrix()
    ok = np.all(np.isfinite(x), axis=1)
    return x, ok


def _scores(model: AnomalyModel, x: np.ndarray) -> np.ndarray:
    """Per window: the larger of the two shares (forest, deviation) of training windows
    strictly below it."""
    z = model.scaler.transform(x)
    raw = -np.asarray(model.forest.score_samples(z), dtype=float)
    dev = np.max(np.abs(z), axis=1)
    n = len(model.train_raw)
    # "strictly below", blind to rounding: a window like the training data scores 0
    below_raw = np.searchsorted(model.train_raw, raw - _TIE, side="left")
    below_dev = np.searchsorted(model.train_dev, dev - _TIE, side="left")
    return np.maximum(below_raw, below_dev) / n


def train_anomaly_model(
    features: WindowFeatures,
    *,
    asset_id: str,
    sensor_ids: tuple[str, ...],
    seed: int = 0,
    n_estimators: int = 100,
    n_folds: int = 5,
) -> AnomalyModel:
    """Fit the scaler and the forest on the complete windows of a healthy period."""
    if len(sensor_ids) != features.n_sensors:
        raise ValidationError(
            f"{len(sensor_ids)} sensor ids for features of {features.n_sensors} sensors"
        )
    x, ok = _complete(features)
    if int(ok.sum()) < MIN_TRAIN_WINDOWS:
        raise ValidationError(
            f"training needs at least {MIN_TRAIN_WINDOWS} complete windows, got {int(ok.sum())}",
            details={"windows": int(ok.sum())},
        )
    xt = x[ok]
    # every forest draws the same sample size, so their scores share one normalisation
    size = min(256, len(xt) - -(-len(xt) // n_folds))
    scaler = StandardScaler().fit(xt)
    forest = IsolationForest(n_estimators=n_estimators, max_samples=size, random_state=seed).fit(
        scaler.transform(xt)
    )
    # out-of-fold references: each training window scored by a scaler and forest fitted
    # without it, as a new healthy window would be
    raw = np.empty(len(xt))
    dev = np.empty(len(xt))
    folds = np.arange(len(xt)) % n_folds
    for k in range(n_folds):
        out = folds == k
        sc = StandardScaler().fit(xt[~out])
        fo = IsolationForest(n_estimators=n_estimators, max_samples=size, random_state=seed + k + 1)
        fo.fit(sc.transform(xt[~out]))
        z = sc.transform(xt[out])
        raw[out] = -np.asarray(fo.score_samples(z), dtype=float)
        dev[out] = np.max(np.abs(z), axis=1)
    raw.sort()
    dev.sort()
    q = np.quantile(raw, [0.05, 0.5, 0.95, 0.99])
    return AnomalyModel(
        asset_id=asset_id, sensor_ids=tuple(sensor_ids), feature_names=FEATURES,
        window_s=features.length_us / 1e6, step_s=features.step_us / 1e6,
        trained_from_us=int(features.starts_us[ok][0]),
        trained_to_us=int(features.ends_us[ok][-1]),
        metrics=TrainingMetrics(int(ok.sum()), int((~ok).sum()),
                                (float(q[0]), float(q[1]), float(q[2]), float(q[3]))),
        seed=seed, sklearn_version=sklearn.__version__, format_version=FORMAT_VERSION,
        scaler=scaler, forest=forest, train_raw=raw, train_dev=dev,
    )  # fmt: skip


def _check(model: AnomalyModel, features: WindowFeatures) -> None:
    if features.n_sensors != len(model.sensor_ids):
        raise ValidationError(
            f"model for {len(model.sensor_ids)} sensors, features of {features.n_sensors}"
        )


def score_windows(model: AnomalyModel, features: WindowFeatures) -> np.ndarray:
    """The score of every window (NaN for incomplete ones)."""
    _check(model, features)
    x, ok = _complete(features)
    out = np.full(len(x), np.nan)
    if ok.any():
        out[ok] = _scores(model, x[ok])
    return out


def assess_anomaly(
    model: AnomalyModel,
    features: WindowFeatures,
    *,
    last: int = 5,
    threshold: float = 0.99,
) -> AnomalyResult | None:
    """Score the last ``last`` complete windows together; None when there is none."""
    _check(model, features)
    if last < 1 or not 0 < threshold <= 1:
        raise ValidationError("last must be >= 1 and threshold in (0, 1]")
    x, ok = _complete(features)
    rows = np.flatnonzero(ok)[-last:]
    if not len(rows):
        return None
    score = float(np.median(_scores(model, x[rows])))
    z = model.scaler.transform(x[rows]).reshape(len(rows), features.n_sensors, -1)
    dev = np.mean(z * z, axis=(0, 2))
    shares = dev / dev.sum() if dev.sum() > 0 else np.zeros_like(dev)
    contrib = sorted(zip(model.sensor_ids, map(float, shares), strict=True), key=lambda p: -p[1])
    return AnomalyResult(
        score=score, anomalous=score >= threshold, threshold=threshold,
        contributions=tuple(contrib),
        window_start_us=int(features.starts_us[rows[0]]),
        window_end_us=int(features.ends_us[rows[-1]]), n_windows=len(rows),
    )  # fmt: skip
