"""The standard-library AMQP 1.0 codec against proton's own encoder and decoder."""
from __future__ import annotations

import uuid

import proton
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skupper_podman.router.amqp_codec import (
    CodecError,
    Described,
    Symbol,
    Ubyte,
    Uint,
    Ulong,
    Ushort,
    decode,
    encode,
)


def proton_encode(value) -> bytes:
    data = proton.Data()
    data.put_object(value)
    return data.encode()


def proton_decode(raw: bytes):
    data = proton.Data()
    data.decode(raw)
    data.next()
    return _owned(data.get_object())  # proton's binaries are views into `data`


def _owned(value):
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, dict):
        return {_owned(k): _owned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_owned(v) for v in value]
    return value


SAMPLES = [
    None, True, False, 0, 1, -1, 127, -128, 128, -129, 2**40, -(2**63), 2**63 - 1, 1.5, -0.25,
    "", "management", "ünïcødé ✓", "x" * 300, b"", b"\x00\xff" * 200,
    [], [1, "a", None], list(range(300)), {}, {"statusCode": 200, "statusDescription": "OK"},
    {"attributeNames": ["id", "mode"], "results": [["site-a", "interior"], ["site-b", "edge"]]},
    {"nested": {"deeper": [{"k": "v" * 400}]}},
]


@pytest.mark.parametrize("value", SAMPLES, ids=lambda v: type(v).__name__)
def test_python_values_encode_as_proton_encodes_them(value):
    assert decode(proton_encode(value)) == value
    assert proton_decode(encode(value)) == value


@pytest.mark.parametrize("ours, theirs", [
    (Symbol("amqp:not-found"), proton.symbol("amqp:not-found")),
    (Ulong(0), proton.ulong(0)), (Ulong(200), proton.ulong(200)), (Ulong(2**64 - 1), proton.ulong(2**64 - 1)),
    (Uint(0), proton.uint(0)), (Uint(7), proton.uint(7)), (Uint(2**32 - 1), proton.uint(2**32 - 1)),
    (Ushort(65535), proton.ushort(65535)), (Ubyte(255), proton.ubyte(255)),
])
def test_typed_values_keep_their_amqp_type(ours, theirs):
    decoded = proton_decode(encode(ours))
    assert decoded == theirs and type(decoded) is type(theirs)
    back = decode(proton_encode(theirs))
    assert back == ours and type(back) is type(ours)


def test_described_values_round_trip_with_proton():
    ours = Described(Ulong(0x1D), [Symbol("amqp:unauthorized-access"), "no"])
    theirs = proton_decode(encode(ours))
    assert isinstance(theirs, proton.Described)
    assert theirs.descriptor == 0x1D and theirs.value == ["amqp:unauthorized-access", "no"]
    assert decode(proton_encode(theirs)) == ours


def test_proton_only_types_decode():
    assert decode(proton_encode(proton.timestamp(1_700_000_000_000))) == 1_700_000_000_000
    assert decode(proton_encode(proton.char("é"))) == "é"
    assert decode(proton_encode(proton.byte(-5))) == -5
    assert decode(proton_encode(proton.short(-300))) == -300
    assert decode(proton_encode(proton.int32(-70000))) == -70000
    assert decode(proton_encode(proton.float32(0.5))) == 0.5
    value = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert decode(proton_encode(value)) == value.bytes


def test_arrays_decode_to_lists():
    symbols = proton.Array(proton.UNDESCRIBED, proton.Data.SYMBOL, "EXTERNAL", "ANONYMOUS")
    assert decode(proton_encode(symbols)) == ["EXTERNAL", "ANONYMOUS"]
    assert all(isinstance(s, Symbol) for s in decode(proton_encode(symbols)))
    ints = proton.Array(proton.UNDESCRIBED, proton.Data.INT, *range(100))
    assert decode(proton_encode(ints)) == list(range(100))
    described = proton.Array(proton.ulong(9), proton.Data.STRING, "a", "b")
    assert decode(proton_encode(described)) == [Described(Ulong(9), "a"), Described(Ulong(9), "b")]


def test_unencodable_value_is_a_type_error():
    with pytest.raises(TypeError, match="no AMQP encoding for set"):
        encode({1, 2})


@pytest.mark.parametrize("raw, message", [
    (b"", "malformed"),
    (b"\x01", "unknown AMQP type code 0x01"),
    (b"\xa1\x05abc", "runs past the end"),
    (b"\xc0\x05\x02\x41", "runs past the end"),
    (b"\xc1\x02\x01\x41", "odd number"),
    (b"\xc0\x03\x01\x41\x41", "declares"),
    (b"\x41\x41", "1 bytes after the value"),
    (b"\xa1\x02\xff\xfe", "malformed"),
    (b"\x73\x80\x00\x00\x00", "malformed"),
])
def test_malformed_bytes_are_codec_errors(raw, message):
    with pytest.raises(CodecError, match=message):
        decode(raw)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=64))
def test_no_other_exception_escapes_the_decoder(raw):
    try:
        decode(raw)
    except CodecError:
        pass


values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20)
    | st.binary(max_size=20) | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(values)
def test_every_value_round_trips_and_proton_agrees(value):
    raw = encode(value)
    assert decode(raw) == value
    assert proton_decode(raw) == value
