"""Modbus addressing, data types, block-read planning and register codecs (pure, numpy).

Addresses: ``hr:100`` (holding register), ``ir:0`` (input register), ``coil:3``,
``di:2`` (discrete input); zero-based protocol addresses.

Data types: ``int16 | uint16 | int32 | uint32 | float32 | bool``, optionally suffixed
with a byte order: ``:ABCD`` (big-endian, the default), ``:CDAB`` (word swap),
``:BADC`` (byte swap inside each word), ``:DCBA`` (both). For 16-bit types only the
byte swap matters (``BADC``/``DCBA`` swap the two bytes). ``bool`` on a register
reads ``register != 0``; on coils and discrete inputs it is the bit.

Engineering value = raw * scale + offset (``ingest.connectors.scaling``); writes invert it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from graph.errors import ValidationError
from ingest.connectors.scaling import from_raw

__all__ = [
    "MAX_READ_BITS",
    "MAX_READ_REGISTERS",
    "BlockDecoder",
    "Kind",
    "ModbusAddress",
    "ModbusType",
    "Point",
    "ReadBlock",
    "Table",
    "WordOrder",
    "decode_registers",
    "encode_values",
    "plan_reads",
]

MAX_READ_REGISTERS = 125  # FC3/FC4 limit
MAX_READ_BITS = 2000  # FC1/FC2 limit

FloatArray = npt.NDArray[np.float64]
# Register words held in uint32 (numpy's stubs type uint32-with-int arithmetic as signed)
_Words = npt.NDArray[np.integer[Any]]


class Table(StrEnum):
    HOLDING = "hr"
    INPUT = "ir"
    COIL = "coil"
    DISCRETE = "di"

    @property
    def is_bits(self) -> bool:
        return self in (Table.COIL, Table.DISCRETE)

    @property
    def writable(self) -> bool:
        return self in (Table.HOLDING, Table.COIL)


class Kind(StrEnum):
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    FLOAT32 = "float32"
    BOOL = "bool"


class WordOrder(StrEnum):
    ABCD = "ABCD"
    CDAB = "CDAB"
    BADC = "BADC"
    DCBA = "DCBA"

    @property
    def byte_swap(self) -> bool:
        return self in (WordOrder.BADC, WordOrder.DCBA)

    @property
    def word_swap(self) -> bool:
        return self in (WordOrder.CDAB, WordOrder.DCBA)


_WIDTH = {Kind.INT32: 2, Kind.UINT32: 2, Kind.FLOAT32: 2}
_INT_RANGE = {
    Kind.INT16: (-(2**15), 2**15 - 1),
    Kind.UINT16: (0, 2**16 - 1),
    Kind.INT32: (-(2**31), 2**31 - 1),
    Kind.UINT32: (0, 2**32 - 1),
    Kind.BOOL: (0, 1),
}


@dataclass(frozen=True, slots=True)
class ModbusAddress:
    table: Table
    index: int

    @classmethod
    def parse(cls, text: str) -> ModbusAddress:
        prefix, sep, number = text.strip().partition(":")
        try:
            table = Table(prefix.lower())
        except ValueError:
            raise ValidationError(
                f"modbus address {text!r} must start with hr:, ir:, coil: or di:"
            ) from None
        if not sep or not number.isdigit() or not 0 <= int(number) <= 65535:
            raise ValidationError(f"modbus address {text!r} needs an index from 0 to 65535")
        return cls(table, int(number))

    def __str__(self) -> str:
        return f"{self.table.value}:{self.index}"


@dataclass(frozen=True, slots=True)
class ModbusType:
    kind: Kind
    order: WordOrder = WordOrder.ABCD

    @classmethod
    def parse(cls, text: str) -> ModbusType:
        name, _, order = text.strip().partition(":")
        try:
            kind = Kind(name.lower())
        except ValueError:
            kinds = "|".join(k.value for k in Kind)
            raise ValidationError(f"modbus data type {text!r} must be one of {kinds}") from None
        try:
            word_order = WordOrder(order.upper()) if order else WordOrder.ABCD
        except ValueError:
            raise ValidationError(
                f"modbus byte order in {text!r} must be ABCD, CDAB, BADC or DCBA"
            ) from None
        return cls(kind, word_order)

    @property
    def width(self) -> int:
        """Registers (or bits) the value occupies."""
        return _WIDTH.get(self.kind, 1)


@dataclass(frozen=True, slots=True)
class Point:
    """One bound value on a device: ``key`` is the sensor or actuator id."""

    key: str
    address: ModbusAddress
    dtype: ModbusType
    scale: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        if self.address.table.is_bits and self.dtype.kind is not Kind.BOOL:
            raise ValidationError(
                f"{self.key}: {self.address} holds bits, its data type must be bool"
            )
        if self.address.index + self.dtype.width > 65536:
            raise ValidationError(f"{self.key}: {self.address} runs past register 65535")
        if not math.isfinite(self.scale) or self.scale == 0 or not math.isfinite(self.offset):
            raise ValidationError(f"{self.key}: scale must be finite and non-zero")

    @classmethod
    def parse(
        cls, key: str, address: str, data_type: str, scale: float = 1.0, offset: float = 0.0
    ) -> Point:
        return cls(key, ModbusAddress.parse(address), ModbusType.parse(data_type), scale, offset)

    @property
    def end(self) -> int:
        return self.address.index + self.dtype.width


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One read request: ``count`` registers/bits of ``table`` from ``start``."""

    table: Table
    start: int
    count: int
    points: tuple[Point, ...]


def plan_reads(
    points: Sequence[Point],
    *,
    max_registers: int = MAX_READ_REGISTERS,
    max_bits: int = MAX_READ_BITS,
    max_gap: int | None = None,
) -> list[ReadBlock]:
    """Group points into as few contiguous reads as the request limits allow.

    Greedy over points sorted by address (optimal for fixed-size windows): a block
    grows while its span stays within the limit and, when ``max_gap`` is set, the
    unread gap before the next point is at most ``max_gap`` (some devices refuse reads
    over unmapped addresses).
    """
    blocks: list[ReadBlock] = []
    for table in Table:
        limit = max_bits if table.is_bits else max_registers
        mine = sorted(
            (p for p in points if p.address.table is table),
            key=lambda p: (p.address.index, p.end),
        )
        current: list[Point] = []
        start = end = 0
        for p in mine:
            fits = current and (
                max(end, p.end) - start <= limit
                and (max_gap is None or p.address.index - end <= max_gap)
            )
            if fits:
                current.append(p)
                end = max(end, p.end)
                continue
            if current:
                blocks.append(ReadBlock(table, start, end - start, tuple(current)))
            current, start, end = [p], p.address.index, p.end
        if current:
            blocks.append(ReadBlock(table, start, end - start, tuple(current)))
    return blocks


def _bswap(words: _Words) -> _Words:
    return ((words & 0xFF) << 8) | ((words >> 8) & 0xFF)


def decode_registers(
    registers: npt.ArrayLike, offsets: npt.ArrayLike, dtype: ModbusType
) -> FloatArray:
    """Raw values of one data type at ``offsets`` into ``registers`` (vectorised)."""
    regs: _Words = np.asarray(registers, dtype=np.uint32) & 0xFFFF
    idx = np.asarray(offsets, dtype=np.intp)
    kind, order = dtype.kind, dtype.order
    first = regs[idx]
    if kind is Kind.BOOL:
        return (first != 0).astype(np.float64)
    if order.byte_swap:
        first = _bswap(first)
    if dtype.width == 1:
        u16 = first.astype(np.uint16)
        return (u16.view(np.int16) if kind is Kind.INT16 else u16).astype(np.float64)
    second = regs[idx + 1]
    if order.byte_swap:
        second = _bswap(second)
    hi, lo = (second, first) if order.word_swap else (first, second)
    u32 = ((hi << 16) | lo).astype(np.uint32)
    if kind is Kind.INT32:
        return u32.view(np.int32).astype(np.float64)
    if kind is Kind.FLOAT32:
        with np.errstate(invalid="ignore"):  # a signalling NaN from a device stays a NaN,
            return u32.view(np.float32).astype(np.float64)  # which validation rejects
    return u32.astype(np.float64)


def encode_values(values: npt.ArrayLike, dtype: ModbusType) -> npt.NDArray[np.uint16]:
    """Raw values -> registers, shape ``(n, width)``; integers must be in range."""
    vals = np.atleast_1d(np.asarray(values, dtype=np.float64))
    kind, order = dtype.kind, dtype.order
    if not np.all(np.isfinite(vals)) and kind is not Kind.FLOAT32:
        raise ValidationError(f"{kind.value} values must be finite")
    if kind is Kind.FLOAT32:
        u32 = vals.astype(np.float32).view(np.uint32).astype(np.uint32)
    else:
        ints = np.rint(vals)
        low, high = _INT_RANGE[kind]
        if np.any(ints < low) or np.any(ints > high):
            raise ValidationError(f"value out of {kind.value} range [{low}, {high}]")
        if kind is Kind.BOOL:
            ints = (ints != 0).astype(np.float64)
        u32 = (ints.astype(np.int64) & 0xFFFFFFFF).astype(np.uint32)
    if dtype.width == 1:
        words = (u32 & 0xFFFF)[:, None]
        return (_bswap(words) if order.byte_swap else words).astype(np.uint16)
    hi, lo = u32 >> 16, u32 & 0xFFFF
    first: _Words
    second: _Words
    first, second = (lo, hi) if order.word_swap else (hi, lo)
    if order.byte_swap:
        first, second = _bswap(first), _bswap(second)
    return np.stack([first, second], axis=1).astype(np.uint16)


class BlockDecoder:
    """Decodes one planned block each poll: engineering values in ``block.points`` order.

    The grouping by data type is computed once; each poll is a handful of numpy ops.
    """

    def __init__(self, block: ReadBlock) -> None:
        self.block = block
        groups: dict[ModbusType, list[int]] = {}
        for i, p in enumerate(block.points):
            groups.setdefault(p.dtype, []).append(i)
        self._groups = [
            (
                dtype,
                np.asarray(pos, dtype=np.intp),
                np.asarray([block.points[i].address.index - block.start for i in pos]),
            )
            for dtype, pos in groups.items()
        ]
        self._scale = np.asarray([p.scale for p in block.points], dtype=np.float64)
        self._offset = np.asarray([p.offset for p in block.points], dtype=np.float64)

    def decode(self, words: Sequence[int] | Sequence[bool]) -> FloatArray:
        data = np.asarray(words, dtype=np.uint32)[: self.block.count]
        if data.size < self.block.count:
            raise ValidationError(
                f"short read: {data.size} of {self.block.count} at "
                f"{self.block.table.value}:{self.block.start}"
            )
        raw = np.empty(len(self.block.points), dtype=np.float64)
        for dtype, positions, offsets in self._groups:
            raw[positions] = decode_registers(data, offsets, dtype)
        return from_raw(raw, self._scale, self._offset)
