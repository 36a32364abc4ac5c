"""AMQP 1.0 type system (OASIS AMQP 1.0 part 1): encoding and decoding of values.

Just what a management client needs, in the standard library only (the CLI opens one
management connection per command, and python-qpid-proton takes ~45 ms to import):
every primitive, compound and described type decodes; Python values encode as proton
encodes them (``int`` as long, ``str`` as string, ``dict`` as map, ``list`` as list);
:class:`Symbol`, :class:`Ulong`, :class:`Uint`, :class:`Ubyte` and :class:`Ushort` mark
the AMQP types Python has no own type for.
"""
from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class CodecError(ValueError):
    """Bytes that are not a valid AMQP encoding."""


class Symbol(str):
    """An AMQP symbol (ASCII)."""


class Ulong(int):
    """An AMQP ulong."""


class Uint(int):
    """An AMQP uint."""


class Ushort(int):
    """An AMQP ushort."""


class Ubyte(int):
    """An AMQP ubyte."""


@dataclass(frozen=True)
class Described:
    """A described value: ``descriptor`` (usually a :class:`Ulong` code) and ``value``."""

    descriptor: Any
    value: Any


# -- encoding ------------------------------------------------------------------------------

_LONG = struct.Struct(">q")
# uint, ulong: (zero, one-byte and full constructors, full layout)
_UNSIGNED = {False: (0x43, 0x52, 0x70, ">I"), True: (0x44, 0x53, 0x80, ">Q")}


def encode(value: Any) -> bytes:
    """The AMQP encoding of ``value``."""
    out = bytearray()
    _encode(value, out)
    return bytes(out)


def _encode(value: Any, out: bytearray) -> None:  # noqa: C901 - one branch per type
    if value is None:
        out.append(0x40)
    elif isinstance(value, bool):
        out.append(0x41 if value else 0x42)
    elif isinstance(value, Described):
        out.append(0x00)
        _encode(value.descriptor, out)
        _encode(value.value, out)
    elif isinstance(value, (Ulong, Uint)):
        zero, small, large, layout = _UNSIGNED[type(value) is Ulong]
        if value == 0:
            out.append(zero)
        elif value < 256:
            out += bytes((small, value))
        else:
            out.append(large)
            out += struct.pack(layout, value)
    elif isinstance(value, Ushort):
        out.append(0x60)
        out += struct.pack(">H", value)
    elif isinstance(value, Ubyte):
        out += bytes((0x50, value))
    elif isinstance(value, int):
        if -128 <= value <= 127:
            out += struct.pack(">Bb", 0x55, value)
        else:
            out.append(0x81)
            out += _LONG.pack(value)
    elif isinstance(value, float):
        out.append(0x82)
        out += struct.pack(">d", value)
    elif isinstance(value, Symbol):
        _variable(value.encode("ascii"), 0xA3, 0xB3, out)
    elif isinstance(value, str):
        _variable(value.encode("utf-8"), 0xA1, 0xB1, out)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        _variable(bytes(value), 0xA0, 0xB0, out)
    elif isinstance(value, Mapping):
        body = bytearray()
        for key, item in value.items():
            _encode(key, body)
            _encode(item, body)
        _compound(body, 2 * len(value), 0xC1, 0xD1, out)
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append(0x45)
            return
        body = bytearray()
        for item in value:
            _encode(item, body)
        _compound(body, len(value), 0xC0, 0xD0, out)
    else:
        raise TypeError(f"no AMQP encoding for {type(value).__name__}")


def _variable(data: bytes, small: int, large: int, out: bytearray) -> None:
    if len(data) < 256:
        out += bytes((small, len(data)))
    else:
        out.append(large)
        out += struct.pack(">I", len(data))
    out += data


def _compound(body: bytearray, count: int, small: int, large: int, out: bytearray) -> None:
    if len(body) + 1 < 256 and count < 256:
        out += bytes((small, len(body) + 1, count))
    else:
        out.append(large)
        out += struct.pack(">II", len(body) + 4, count)
    out += body


# -- decoding ------------------------------------------------------------------------------

_FIXED: dict[int, tuple[int, Any]] = {
    0x50: (1, lambda b: Ubyte(b[0])),
    0x51: (1, lambda b: struct.unpack(">b", b)[0]),
    0x52: (1, lambda b: Uint(b[0])),
    0x53: (1, lambda b: Ulong(b[0])),
    0x54: (1, lambda b: struct.unpack(">b", b)[0]),
    0x55: (1, lambda b: struct.unpack(">b", b)[0]),
    0x56: (1, lambda b: b[0] != 0),
    0x60: (2, lambda b: Ushort(struct.unpack(">H", b)[0])),
    0x61: (2, lambda b: struct.unpack(">h", b)[0]),
    0x70: (4, lambda b: Uint(struct.unpack(">I", b)[0])),
    0x71: (4, lambda b: struct.unpack(">i", b)[0]),
    0x72: (4, lambda b: struct.unpack(">f", b)[0]),
    0x73: (4, lambda b: chr(struct.unpack(">I", b)[0])),
    0x74: (4, bytes),
    0x80: (8, lambda b: Ulong(struct.unpack(">Q", b)[0])),
    0x81: (8, lambda b: _LONG.unpack(b)[0]),
    0x82: (8, lambda b: struct.unpack(">d", b)[0]),
    0x83: (8, lambda b: _LONG.unpack(b)[0]),  # timestamp: ms since the epoch
    0x84: (8, bytes),
    0x94: (16, bytes),
    0x98: (16, bytes),  # uuid: its 16 bytes
}
_EMPTY: dict[int, Any] = {0x40: None, 0x41: True, 0x42: False, 0x43: Uint(0), 0x44: Ulong(0),
                          0x45: []}
# binary, string, symbol; list, map; array: 1-byte then 4-byte sizes
_SIZED = frozenset((0xA0, 0xA1, 0xA3, 0xB0, 0xB1, 0xB3, 0xC0, 0xC1, 0xD0, 0xD1, 0xE0, 0xF0))


def decode(data: bytes) -> Any:
    """The one value encoded in ``data``; raises CodecError on trailing or missing bytes."""
    value, end = decode_at(data, 0)
    if end != len(data):
        raise CodecError(f"{len(data) - end} bytes after the value")
    return value


def decode_at(data: bytes | memoryview, offset: int) -> tuple[Any, int]:
    """The value encoded at ``offset`` and the offset just after it."""
    try:
        return _decode(memoryview(data), offset)
    except (IndexError, OverflowError, struct.error, UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, CodecError):
            raise
        raise CodecError(f"malformed AMQP value at byte {offset}: {exc}") from None


def _take(data: memoryview, offset: int, size: int) -> bytes:
    end = offset + size
    if end > len(data):
        raise CodecError(f"value at byte {offset} runs past the end")
    return bytes(data[offset:end])


def _decode(data: memoryview, offset: int) -> tuple[Any, int]:
    code = data[offset]
    offset += 1
    if code == 0x00:
        descriptor, offset = _decode(data, offset)
        value, offset = _decode(data, offset)
        return Described(descriptor, value), offset
    return _decode_as(code, data, offset)


def _decode_as(code: int, data: memoryview, offset: int) -> tuple[Any, int]:
    """A value of constructor ``code`` whose bytes start at ``offset``."""
    if code in _EMPTY:
        value = _EMPTY[code]
        return (list(value) if isinstance(value, list) else value), offset
    if code in _FIXED:
        size, convert = _FIXED[code]
        return convert(_take(data, offset, size)), offset + size
    if code not in _SIZED:
        raise CodecError(f"unknown AMQP type code 0x{code:02x}")
    category = code & 0xF0
    width = 1 if category in (0xA0, 0xC0, 0xE0) else 4
    size = int.from_bytes(_take(data, offset, width), "big")
    offset += width
    body = offset
    end = body + size
    if end > len(data):
        raise CodecError(f"value at byte {offset} runs past the end")
    if category in (0xA0, 0xB0):
        raw = bytes(data[body:end])
        kind = code & 0x0F
        if kind == 0x0:
            return raw, end
        if kind == 0x1:
            return raw.decode("utf-8"), end
        return Symbol(raw.decode("ascii")), end
    count = int.from_bytes(_take(data, body, width), "big")
    position = body + width
    if category in (0xE0, 0xF0):
        items, position = _array(data, position, count)
    else:
        items = []
        for _ in range(count):
            item, position = _decode(data, position)
            items.append(item)
    if position != end:
        raise CodecError(f"compound value at byte {body} declares {size} bytes, holds "
                         f"{position - body}")
    if code & 0x0F == 0x1 and category in (0xC0, 0xD0):
        if count % 2:
            raise CodecError(f"map at byte {body} has an odd number of elements")
        return dict(zip(items[::2], items[1::2])), end
    return items, end


def _array(data: memoryview, position: int, count: int) -> tuple[list[Any], int]:
    """``count`` elements sharing one constructor (which may be described)."""
    descriptor: Any = None
    code = data[position]
    position += 1
    described = code == 0x00
    if described:
        descriptor, position = _decode(data, position)
        code = data[position]
        position += 1
    items = []
    for _ in range(count):
        item, position = _decode_as(code, data, position)
        items.append(Described(descriptor, item) if described else item)
    return items, position
