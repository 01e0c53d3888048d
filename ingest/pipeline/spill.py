"""Store-and-forward: an append-only spill log for batches the store could not take.

Files ``spill-<seq>.seg`` in the spill directory hold records
``<u32 length><u32 crc32><u8 kind><payload>``: kind 1 a reading batch as an Arrow IPC
stream, kind 2 rejected rows as JSON. Each append is fsynced before it returns, so
an acknowledged spill survives a crash; an append that fails part-way (disk full,
I/O error) is truncated back to where it began and raises ``OSError``, so it leaves
no partial record behind. Replay reads segments oldest first; a
segment is deleted only once every record in it was written to the store (the store
deduplicates, so replaying a segment twice after a crash stores nothing twice).
A torn tail (a crash mid-append) ends replay of that segment; the torn bytes are
moved to ``<name>.torn`` for inspection, never dropped silently.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from ingest.store import ReadingBatch, RejectedRow

__all__ = ["SpillLog", "SpillRecord"]

_HEADER = struct.Struct("<IIB")
READINGS, REJECTED = 1, 2
SpillRecord = ReadingBatch | list[RejectedRow]


def _encode(record: SpillRecord) -> tuple[int, bytes]:
    if isinstance(record, ReadingBatch):
        table = record.to_arrow()
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return READINGS, sink.getvalue().to_pybytes()
    rows = [
        [r.id, r.received_at.isoformat(), r.sensor_id, r.asset_id, r.raw, r.reason] for r in record
    ]
    return REJECTED, json.dumps(rows).encode()


def _decode(kind: int, payload: bytes) -> SpillRecord:
    if kind == READINGS:
        return ReadingBatch.from_arrow(pa.ipc.open_stream(payload).read_all())
    return [
        RejectedRow(i, datetime.fromisoformat(t), s, a, raw, reason)
        for i, t, s, a, raw, reason in json.loads(payload)
    ]


class SpillLog:
    def __init__(self, directory: Path, segment_bytes: int = 64 * 1024 * 1024) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._segment_bytes = segment_bytes
        segments = self.segments()
        self._seq = int(segments[-1].stem.split("-")[1]) + 1 if segments else 0
        self._current: Path | None = None

    def segments(self) -> list[Path]:
        return sorted(self.directory.glob("spill-*.seg"))

    def pending(self) -> bool:
        return bool(self.segments())

    def append(self, record: SpillRecord) -> int:
        """Append and fsync one record; returns the bytes written."""
        kind, payload = _encode(record)
        if self._current is None or (
            self._current.exists() and self._current.stat().st_size > self._segment_bytes
        ):
            self.rotate()
        assert self._current is not None
        data = _HEADER.pack(len(payload), zlib.crc32(payload), kind) + payload
        fd = os.open(self._current, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            start = os.fstat(fd).st_size
            try:
                view = memoryview(data)
                while view:  # a full disk may take part of it and then refuse the rest
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            except OSError:
                os.ftruncate(fd, start)  # no partial record left behind for replay
                raise
        finally:
            os.close(fd)
        return len(data)

    def rotate(self) -> None:
        """Start a new segment for appends: replay can then finish the older ones."""
        self._current = self.directory / f"spill-{self._seq:012d}.seg"
        self._seq += 1

    def read(self, segment: Path) -> Iterator[SpillRecord]:
        data = segment.read_bytes()
        pos = 0
        while pos < len(data):
            head = data[pos : pos + _HEADER.size]
            if len(head) == _HEADER.size:
                length, crc, kind = _HEADER.unpack(head)
                payload = data[pos + _HEADER.size : pos + _HEADER.size + length]
                if len(payload) == length and zlib.crc32(payload) == crc:
                    yield _decode(kind, payload)
                    pos += _HEADER.size + length
                    continue
            torn = segment.with_name(segment.name + ".torn")
            torn.write_bytes(data[pos:])
            return

    def remove(self, segment: Path) -> None:
        if segment == self._current:
            self._current = None
        segment.unlink()
