"""Modbus codec: addressing, data types, block planning, register round-trips."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from graph.errors import ValidationError
from ingest.connectors.modbus_codec import (
    MAX_READ_REGISTERS,
    BlockDecoder,
    Kind,
    ModbusAddress,
    ModbusType,
    Point,
    Table,
    WordOrder,
    decode_registers,
    encode_values,
    plan_reads,
)

ORDERS = list(WordOrder)


def test_parse_address_and_type() -> None:
    assert ModbusAddress.parse("hr:100") == ModbusAddress(Table.HOLDING, 100)
    assert ModbusAddress.parse("COIL:3") == ModbusAddress(Table.COIL, 3)
    assert ModbusType.parse("float32:cdab") == ModbusType(Kind.FLOAT32, WordOrder.CDAB)
    assert ModbusType.parse("int16").order is WordOrder.ABCD
    assert ModbusType.parse("uint32").width == 2


@pytest.mark.parametrize("bad", ["100", "xx:1", "hr:", "hr:-1", "hr:70000", "hr:1.5"])
def test_bad_address_is_a_validation_error(bad: str) -> None:
    with pytest.raises(ValidationError):
        ModbusAddress.parse(bad)


@pytest.mark.parametrize("bad", ["double", "float32:XYZW", "int8"])
def test_bad_type_is_a_validation_error(bad: str) -> None:
    with pytest.raises(ValidationError):
        ModbusType.parse(bad)


def test_bits_tables_need_bool() -> None:
    with pytest.raises(ValidationError, match="bool"):
        Point.parse("s", "coil:1", "int16")
    with pytest.raises(ValidationError, match="scale"):
        Point.parse("s", "hr:1", "int16", scale=0.0)


def test_known_float_layouts() -> None:
    # 123.456 as float32 big-endian bytes 42 F6 E9 79
    a, b, c, d = struct.pack(">f", 123.456)
    layouts = {
        WordOrder.ABCD: [a << 8 | b, c << 8 | d],
        WordOrder.CDAB: [c << 8 | d, a << 8 | b],
        WordOrder.BADC: [b << 8 | a, d << 8 | c],
        WordOrder.DCBA: [d << 8 | c, b << 8 | a],
    }
    for order, regs in layouts.items():
        dtype = ModbusType(Kind.FLOAT32, order)
        assert decode_registers(regs, [0], dtype)[0] == pytest.approx(123.456, rel=1e-6)
        assert encode_values([123.456], dtype).tolist() == [regs]


def test_signed_and_bool_registers() -> None:
    assert decode_registers([0xFFFF], [0], ModbusType(Kind.INT16))[0] == -1
    assert decode_registers([0xFFFF], [0], ModbusType(Kind.UINT16))[0] == 65535
    assert decode_registers([0x0100], [0], ModbusType(Kind.INT16, WordOrder.BADC))[0] == 1
    assert decode_registers([0xFFFF, 0xFFFE], [0], ModbusType(Kind.INT32))[0] == -2
    assert decode_registers([0, 7], [0, 1], ModbusType(Kind.BOOL)).tolist() == [0.0, 1.0]


def test_encode_rejects_out_of_range() -> None:
    with pytest.raises(ValidationError, match="range"):
        encode_values([40000], ModbusType(Kind.INT16))
    with pytest.raises(ValidationError, match="range"):
        encode_values([-1], ModbusType(Kind.UINT32))


ints = {
    Kind.INT16: st.integers(-(2**15), 2**15 - 1),
    Kind.UINT16: st.integers(0, 2**16 - 1),
    Kind.INT32: st.integers(-(2**31), 2**31 - 1),
    Kind.UINT32: st.integers(0, 2**32 - 1),
}


@given(
    kind=st.sampled_from(list(ints)),
    order=st.sampled_from(ORDERS),
    data=st.data(),
)
def test_integer_round_trip(kind: Kind, order: WordOrder, data: st.DataObject) -> None:
    values = data.draw(st.lists(ints[kind], min_size=1, max_size=20))
    dtype = ModbusType(kind, order)
    regs = encode_values(values, dtype)
    assert regs.shape == (len(values), dtype.width)
    flat = regs.reshape(-1)
    offsets = np.arange(len(values)) * dtype.width
    assert decode_registers(flat, offsets, dtype).tolist() == [float(v) for v in values]


@given(
    order=st.sampled_from(ORDERS),
    values=st.lists(st.floats(width=32, allow_nan=False), min_size=1, max_size=20),
)
def test_float32_round_trip(order: WordOrder, values: list[float]) -> None:
    dtype = ModbusType(Kind.FLOAT32, order)
    flat = encode_values(values, dtype).reshape(-1)
    decoded = decode_registers(flat, np.arange(len(values)) * 2, dtype)
    assert decoded.tolist() == values


@given(
    order=st.sampled_from(ORDERS),
    regs=st.lists(st.integers(0, 0xFFFF), min_size=2, max_size=2),
)
def test_registers_round_trip_through_float32_bits(order: WordOrder, regs: list[int]) -> None:
    """decode then encode gives the registers back for every non-NaN bit pattern."""
    dtype = ModbusType(Kind.FLOAT32, order)
    value = decode_registers(regs, [0], dtype)
    if np.isnan(value[0]):
        return
    assert encode_values(value, dtype).reshape(-1).tolist() == regs


def _points(spec: list[tuple[str, int, str]]) -> list[Point]:
    return [Point.parse(f"s{i}", f"{t}:{a}", d) for i, (t, a, d) in enumerate(spec)]


def test_plan_groups_contiguous_and_splits_at_limit() -> None:
    pts = _points(
        [("hr", 0, "int16"), ("hr", 1, "float32"), ("hr", 10, "uint16"), ("hr", 124, "int32")]
        + [("ir", 5, "int16"), ("coil", 3, "bool"), ("coil", 1999, "bool"), ("coil", 2003, "bool")]
    )
    blocks = plan_reads(pts)
    summary = [(b.table.value, b.start, b.count, len(b.points)) for b in blocks]
    assert summary == [
        ("hr", 0, 11, 3),
        ("hr", 124, 2, 1),
        ("ir", 5, 1, 1),
        ("coil", 3, 1997, 2),
        ("coil", 2003, 1, 1),
    ]
    gapped = plan_reads(pts[:3], max_gap=2)
    assert [(b.start, b.count) for b in gapped] == [(0, 3), (10, 1)]


@given(
    st.lists(
        st.tuples(st.integers(0, 2000), st.sampled_from(["int16", "float32", "uint32"])),
        min_size=1,
        max_size=60,
    )
)
def test_plan_covers_every_point_within_limits(spec: list[tuple[int, str]]) -> None:
    pts = _points([("hr", a, d) for a, d in spec])
    blocks = plan_reads(pts)
    assert sum(len(b.points) for b in blocks) == len(pts)
    for b in blocks:
        assert b.count <= MAX_READ_REGISTERS
        for p in b.points:
            assert b.start <= p.address.index and p.end <= b.start + b.count
    # greedy is minimal: a block never starts where the previous one could have held it
    for prev, nxt in zip(blocks, blocks[1:], strict=False):
        assert max(p.end for p in nxt.points[:1]) - prev.start > MAX_READ_REGISTERS


def test_block_decoder_applies_scale_and_offset() -> None:
    pts = [
        Point.parse("t", "hr:10", "int16", scale=0.1, offset=-5.0),
        Point.parse("p", "hr:11", "float32:CDAB", scale=2.0),
        Point.parse("r", "hr:13", "uint16"),
    ]
    (block,) = plan_reads(pts)
    regs = [0xFF38]  # -200
    regs += encode_values([1.5], ModbusType(Kind.FLOAT32, WordOrder.CDAB)).reshape(-1).tolist()
    regs += [42]
    assert BlockDecoder(block).decode(regs).tolist() == pytest.approx([-25.0, 3.0, 42.0])
    with pytest.raises(ValidationError, match="short read"):
        BlockDecoder(block).decode(regs[:2])
