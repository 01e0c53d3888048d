"""Integer codes for the ids in an object array, one dict lookup per run of equal ids.

``IdCoder.encode`` turns an object array of ids (str) into int64 codes. A code is
assigned the first time an id is seen and kept by the coder, so later batches cost one
lookup in a warm dict per *run* of equal neighbours: a batch grouped by sensor costs
one lookup per sensor, an interleaved one a lookup per reading, still without a Python frame per reading (the
lookup is ``map`` over ``dict.get``). The first ``PROBE`` ids tell which of the two a
batch is; the codes are the same either way.

Codes index ``IdCoder.names``; they stay stable until the coder holds ``max_size`` ids,
when it starts afresh (callers keep codes for one batch only).
"""

from __future__ import annotations

from itertools import repeat

import numpy as np

__all__ = ["IdCoder"]


class IdCoder:
    PROBE = 256  # ids looked at to tell grouped batches from interleaved ones

    def __init__(self, max_size: int = 1_000_000) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.max_size = max_size
        self._index: dict[str, int] = {}
        self.names: list[str] = []  # code -> id

    def __len__(self) -> int:
        return len(self.names)

    def encode(self, ids: np.ndarray) -> np.ndarray:
        """The int64 code of each element of ``ids`` (a one-dimensional object array)."""
        ids = np.asarray(ids, dtype=object)
        if ids.ndim != 1:
            raise ValueError("ids must be one-dimensional")
        n = len(ids)
        if n == 0:
            return np.empty(0, dtype=np.int64)
        if len(self.names) >= self.max_size:
            self._index.clear()
            self.names.clear()
        probe = ids[: self.PROBE]
        if np.count_nonzero(probe[1:] != probe[:-1]) * 2 > len(probe):
            at = None  # interleaved ids: runs too short to pay for finding them
            runs = ids.tolist()
        else:
            head = np.empty(n, dtype=bool)  # first element of each run of equal ids
            head[0] = True
            np.not_equal(ids[1:], ids[:-1], out=head[1:])
            at = np.flatnonzero(head)
            runs = ids[at].tolist()
        codes = np.fromiter(map(self._index.get, runs, repeat(-1)), np.int64, len(runs))
        new = np.flatnonzero(codes < 0)
        if len(new):
            index, names = self._index, self.names
            for i in new.tolist():  # first sight (or an id twice among the new ones)
                code = index.get(runs[i])
                if code is None:
                    code = index[runs[i]] = len(names)
                    names.append(runs[i])
                codes[i] = code
        if at is None or len(at) == n:
            return codes
        return np.repeat(codes, np.diff(at, append=n))
