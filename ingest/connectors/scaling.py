"""Engineering units from raw device values and back, for every protocol (pure, numpy).

A binding's ``scale`` and ``offset`` say: engineering value = raw * scale + offset. Reads
apply ``from_raw`` (vectorised over a block of points); setpoint writes invert it with
``to_raw``, which refuses a scale of 0 (nothing to invert).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from graph.errors import ValidationError

__all__ = ["FloatArray", "from_raw", "to_raw"]

FloatArray = npt.NDArray[np.float64]


def from_raw(raw: FloatArray, scale: npt.ArrayLike, offset: npt.ArrayLike) -> FloatArray:
    return raw * np.asarray(scale, dtype=np.float64) + np.asarray(offset, dtype=np.float64)


def to_raw(value: float, scale: float, offset: float) -> float:
    if scale == 0:
        raise ValidationError("scale 0 cannot be inverted for a write")
    return (value - offset) / scale
