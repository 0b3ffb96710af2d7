"""Decoding ``application/vnd.kubernetes.protobuf`` request bodies into plain JSON dicts.

kubectl's typed ``create`` subcommands (``create deployment|namespace|configmap|secret|...``) send
their object as Kubernetes protobuf: the magic ``k8s\\x00`` followed by a ``runtime.Unknown``
envelope (1 typeMeta{1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding, 4 contentType) whose ``raw``
is the object's own message, e.g. ``k8s.io.api.apps.v1.Deployment``.

What this module owns:

* a small hand-written protobuf wire reader (varint, 64-bit, length-delimited, 32-bit; unknown
  fields and groups skipped, packed repeated scalars accepted);
* the mapping ``(apiVersion, kind)`` -> message name (``k8s.io.api.<group>.<version>.<Kind>``);
* a decoder that turns a message into exactly the dict Go's ``encoding/json`` would print for the
  same Go struct, driven by the data table ``protobuf_messages.json``.

The table (generated once from the release-1.32 ``generated.proto`` files and the Go json tags)
lists, per fully qualified message, its fields in Go struct order as
``[number, jsonName, type, flags]`` (maps add the value type). ``flags`` is a bit set: repeated,
map, pointer (Go ``*T``: absent means nil), omitempty, inline (``json:",inline"``). With these bits
the decoder follows Go's rules: non-pointer fields absent on the wire hold their zero value, and
zero values are dropped only for ``omitempty`` fields, so ``replicas: 0`` survives while a
non-pointer struct such as ``status`` prints ``{}`` and a zero ``creationTimestamp`` prints
``null`` -- as ``kubectl create ... --dry-run=client -o json`` shows. Types with their own JSON
form (Time, MicroTime, Duration, Quantity, IntOrString, RawExtension, FieldsV1, apiextensions
JSON and JSONSchemaPropsOr*, Verbs/ExtraValue) are listed under ``special``.

Malformed input raises :class:`kybernetes.api.errors.StatusError` (400 BadRequest), never anything
else. Neighbours: ``api.registry`` knows which kinds are served; the apiserver's request decoding
calls :func:`decode_k8s_protobuf` when :func:`is_protobuf_content_type` says so.
"""

from __future__ import annotations

import base64
import datetime
import functools
import json
import math
import struct
from dataclasses import dataclass
from importlib import resources
from typing import Any

from kybernetes.api.errors import StatusError

__all__ = [
    "MAGIC",
    "PROTOBUF_CONTENT_TYPE",
    "decode_k8s_protobuf",
    "decode_message",
    "field_names",
    "go_duration",
    "is_protobuf_content_type",
    "map_field_names",
    "message_name",
    "zero_field",
]

MAGIC = b"k8s\x00"
PROTOBUF_CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

_F_REPEATED = 1
_F_MAP = 2
_F_POINTER = 4
_F_OMITEMPTY = 8
_F_INLINE = 16

_MAX_DEPTH = 100
_MASK64 = (1 << 64) - 1

# Groups whose proto package is not simply the first label of the group name.
_GROUP_PACKAGES = {
    "": "k8s.io.api.core",
    "core": "k8s.io.api.core",
    "meta.k8s.io": "k8s.io.apimachinery.pkg.apis.meta",
    "internal.apiserver.k8s.io": "k8s.io.api.apiserverinternal",
    "apiextensions.k8s.io": "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions",
    "apiregistration.k8s.io": "k8s.io.kube_aggregator.pkg.apis.apiregistration",
}
_META_PACKAGE = "k8s.io.apimachinery.pkg.apis.meta.v1"

_VARINT_TYPES = frozenset({"int32", "int64", "uint32", "uint64", "sint32", "sint64", "bool"})
_FIXED64_TYPES = frozenset({"double", "fixed64", "sfixed64"})
_FIXED32_TYPES = frozenset({"float", "fixed32", "sfixed32"})
_SCALARS = _VARINT_TYPES | _FIXED64_TYPES | _FIXED32_TYPES | {"string", "bytes"}

# Go's zero time (0001-01-01T00:00:00Z) in Unix seconds: ``Time.IsZero`` prints null.
_GO_ZERO_SECONDS = -62135596800
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


class _Malformed(Exception):
    """Internal: the bytes are not a valid message; turned into a 400 at the public boundary."""


@dataclass(frozen=True, slots=True)
class _Field:
    number: int
    name: str
    type: str
    flags: int
    value_type: str | None = None


@dataclass(frozen=True, slots=True)
class _Table:
    messages: dict[str, tuple[_Field, ...]]
    special: dict[str, str]


@functools.cache
def _table() -> _Table:
    raw = json.loads(resources.files("kybernetes.api").joinpath("protobuf_messages.json").read_bytes())
    messages = {
        name: tuple(_Field(f[0], f[1], f[2], f[3], f[4] if len(f) > 4 else None) for f in fields)
        for name, fields in raw["messages"].items()
    }
    return _Table(messages=messages, special=dict(raw["special"]))


def _bad_request(detail: str) -> StatusError:
    return StatusError(400, "BadRequest", f"unable to decode protobuf request body: {detail}")


# --------------------------------------------------------------------------------------------------
# Wire format
# --------------------------------------------------------------------------------------------------

_Occurrence = tuple[int, int | bytes]  # (wire type, value): ints for varint/fixed, bytes for LEN


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    end = len(buf)
    while True:
        if pos >= end:
            raise _Malformed("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & _MASK64, pos
        shift += 7
        if shift >= 70:
            raise _Malformed("varint overflow")


def _skip_group(buf: bytes, pos: int, number: int, depth: int) -> int:
    if depth > _MAX_DEPTH:
        raise _Malformed("groups nested too deeply")
    while True:
        key, pos = _read_varint(buf, pos)
        wire, num = key & 7, key >> 3
        if wire == 4:
            if num != number:
                raise _Malformed("mismatched end group")
            return pos
        pos = _skip_value(buf, pos, wire, num, depth + 1)


def _skip_value(buf: bytes, pos: int, wire: int, number: int, depth: int) -> int:
    if wire == 0:
        return _read_varint(buf, pos)[1]
    if wire == 1:
        pos += 8
    elif wire == 5:
        pos += 4
    elif wire == 2:
        length, pos = _read_varint(buf, pos)
        pos += length
    elif wire == 3:
        return _skip_group(buf, pos, number, depth)
    else:
        raise _Malformed(f"illegal wire type {wire}")
    if pos > len(buf):
        raise _Malformed("unexpected end of data")
    return pos


def _scan(buf: bytes, wanted: frozenset[int] | None = None) -> dict[int, list[_Occurrence]]:
    """Split ``buf`` into ``{field number: [(wire type, value), ...]}`` (in wire order)."""
    out: dict[int, list[_Occurrence]] = {}
    pos = 0
    end = len(buf)
    while pos < end:
        key, pos = _read_varint(buf, pos)
        wire, num = key & 7, key >> 3
        if num <= 0 or num > 0x1FFFFFFF:
            raise _Malformed(f"illegal field number {num}")
        if wanted is not None and num not in wanted:
            pos = _skip_value(buf, pos, wire, num, 0)
            continue
        value: int | bytes
        if wire == 0:
            value, pos = _read_varint(buf, pos)
        elif wire == 1:
            if pos + 8 > end:
                raise _Malformed("unexpected end of data")
            value = int.from_bytes(buf[pos : pos + 8], "little")
            pos += 8
        elif wire == 5:
            if pos + 4 > end:
                raise _Malformed("unexpected end of data")
            value = int.from_bytes(buf[pos : pos + 4], "little")
            pos += 4
        elif wire == 2:
            length, pos = _read_varint(buf, pos)
            if pos + length > end:
                raise _Malformed("unexpected end of data")
            value = buf[pos : pos + length]
            pos += length
        elif wire == 3:
            pos = _skip_group(buf, pos, num, 0)
            continue
        else:
            raise _Malformed(f"illegal wire type {wire}")
        out.setdefault(num, []).append((wire, value))
    return out


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _zigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def _json_float(value: float) -> float | int:
    if math.isnan(value) or math.isinf(value):
        raise _Malformed("NaN or infinite number")
    # Go's encoding/json prints 3.0 as ``3``, which reads back as an integer.
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _scalar(typ: str, wire: int, value: int | bytes, field: str) -> Any:
    """Convert one wire value of scalar type ``typ`` to its JSON value."""
    if typ == "string":
        if wire != 2 or not isinstance(value, bytes):
            raise _Malformed(f"wrong wire type {wire} for string field {field}")
        return value.decode("utf-8", errors="replace")
    if typ == "bytes":
        if wire != 2 or not isinstance(value, bytes):
            raise _Malformed(f"wrong wire type {wire} for bytes field {field}")
        return base64.b64encode(value).decode("ascii")
    if not isinstance(value, int):
        raise _Malformed(f"wrong wire type {wire} for {typ} field {field}")
    if typ in _VARINT_TYPES:
        if wire != 0:
            raise _Malformed(f"wrong wire type {wire} for {typ} field {field}")
        if typ == "bool":
            return value != 0
        if typ == "int32":
            return _signed(value, 32)
        if typ == "int64":
            return _signed(value, 64)
        if typ == "uint32":
            return value & 0xFFFFFFFF
        if typ == "uint64":
            return value
        if typ == "sint32":
            return _zigzag(value & 0xFFFFFFFF)
        return _zigzag(value)
    if typ in _FIXED64_TYPES:
        if wire != 1:
            raise _Malformed(f"wrong wire type {wire} for {typ} field {field}")
        if typ == "double":
            return _json_float(struct.unpack("<d", value.to_bytes(8, "little"))[0])
        return _signed(value, 64) if typ == "sfixed64" else value
    if wire != 5:
        raise _Malformed(f"wrong wire type {wire} for {typ} field {field}")
    if typ == "float":
        return _json_float(struct.unpack("<f", value.to_bytes(4, "little"))[0])
    return _signed(value, 32) if typ == "sfixed32" else value


def _unpack(typ: str, data: bytes, field: str) -> list[Any]:
    """Decode a packed repeated scalar field."""
    out: list[Any] = []
    pos = 0
    if typ in _VARINT_TYPES:
        while pos < len(data):
            value, pos = _read_varint(data, pos)
            out.append(_scalar(typ, 0, value, field))
        return out
    size, wire = (8, 1) if typ in _FIXED64_TYPES else (4, 5)
    if len(data) % size:
        raise _Malformed(f"bad packed length for field {field}")
    for pos in range(0, len(data), size):
        out.append(_scalar(typ, wire, int.from_bytes(data[pos : pos + size], "little"), field))
    return out


def _zero_scalar(typ: str) -> Any:
    if typ == "string":
        return ""
    if typ == "bool":
        return False
    return 0


def _is_empty(value: Any) -> bool:
    """Go's omitempty test for a decoded JSON value of a non-struct Go field."""
    if value is None or value is False:
        return True
    if isinstance(value, str | list | dict):
        return len(value) == 0
    return isinstance(value, int | float) and value == 0


# --------------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------------


def _payload(occurrences: list[_Occurrence], field: str) -> bytes:
    """Singular embedded message: several occurrences merge, which concatenation expresses."""
    parts: list[bytes] = []
    for wire, value in occurrences:
        if wire != 2 or not isinstance(value, bytes):
            raise _Malformed(f"wrong wire type {wire} for message field {field}")
        parts.append(value)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _value(typ: str, data: bytes | None, depth: int) -> Any:
    """JSON value of message ``typ``; ``data`` None is Go's zero value of the (non-pointer) struct."""
    special = _table().special.get(typ)
    if special is not None:
        return _special(special, typ, data, depth)
    return _message(typ, data or b"", depth)


def _field_value(f: _Field, occurrences: list[_Occurrence], depth: int) -> Any:
    typ = f.type
    if f.flags & _F_MAP:
        return _map_value(f, occurrences, depth)
    if f.flags & _F_REPEATED:
        items: list[Any] = []
        if typ in _SCALARS:
            for wire, value in occurrences:
                if wire == 2 and typ not in ("string", "bytes"):
                    assert isinstance(value, bytes)
                    items.extend(_unpack(typ, value, f.name))
                else:
                    items.append(_scalar(typ, wire, value, f.name))
        else:
            for wire, value in occurrences:
                if wire != 2 or not isinstance(value, bytes):
                    raise _Malformed(f"wrong wire type {wire} for message field {f.name}")
                items.append(_value(typ, value, depth + 1))
        return items or None  # a nil slice
    if typ in _SCALARS:
        if occurrences:
            wire, value = occurrences[-1]
            return _scalar(typ, wire, value, f.name)
        if f.flags & _F_POINTER or typ == "bytes":
            return None
        return _zero_scalar(typ)
    if occurrences:
        return _value(typ, _payload(occurrences, f.name), depth + 1)
    if f.flags & _F_POINTER:
        return None
    return _value(typ, None, depth + 1)


def _map_value(f: _Field, occurrences: list[_Occurrence], depth: int) -> dict[str, Any] | None:
    value_type = f.value_type or "string"
    out: dict[str, Any] = {}
    for wire, entry in occurrences:
        if wire != 2 or not isinstance(entry, bytes):
            raise _Malformed(f"wrong wire type {wire} for map field {f.name}")
        fields = _scan(entry, frozenset((1, 2)))
        key: Any = _zero_scalar(f.type)
        if 1 in fields:
            kw, kv = fields[1][-1]
            key = _scalar(f.type, kw, kv, f.name)
        val: Any
        if value_type in _SCALARS:
            if 2 in fields:
                vw, vv = fields[2][-1]
                val = _scalar(value_type, vw, vv, f.name)
            else:
                val = "" if value_type == "bytes" else _zero_scalar(value_type)
        else:
            val = _value(value_type, _payload(fields[2], f.name) if 2 in fields else b"", depth + 1)
        out[str(key).lower() if isinstance(key, bool) else str(key)] = val
    return out or None  # a nil map


def _omit(f: _Field, value: Any) -> bool:
    """Whether an ``omitempty`` field is empty in Go's sense (structs never are)."""
    if f.flags & _F_POINTER:
        return value is None
    if f.flags & (_F_REPEATED | _F_MAP) or f.type in _SCALARS:
        return _is_empty(value)
    # A non-pointer struct is never omitted, except list wrappers (Verbs), which are Go slices.
    return _table().special.get(f.type) == "stringlist" and not value


def _message(typ: str, data: bytes, depth: int) -> dict[str, Any]:
    if depth > _MAX_DEPTH:
        raise _Malformed("messages nested too deeply")
    fields = _table().messages.get(typ)
    if fields is None:
        raise _Malformed(f"no protobuf message description for {typ}")
    occurrences = _scan(data)
    out: dict[str, Any] = {}
    for f in fields:
        value = _field_value(f, occurrences.get(f.number, []), depth)
        if f.flags & _F_INLINE:
            if isinstance(value, dict):
                out.update(value)
            continue
        if f.flags & _F_OMITEMPTY and _omit(f, value):
            continue
        out[f.name] = value
    return out


# --------------------------------------------------------------------------------------------------
# Types with their own JSON form
# --------------------------------------------------------------------------------------------------


def _int_field(fields: dict[int, list[_Occurrence]], number: int, typ: str) -> int:
    if number not in fields:
        return 0
    wire, value = fields[number][-1]
    result = _scalar(typ, wire, value, str(number))
    assert isinstance(result, int)
    return result


def _str_field(fields: dict[int, list[_Occurrence]], number: int) -> str:
    if number not in fields:
        return ""
    wire, value = fields[number][-1]
    result = _scalar("string", wire, value, str(number))
    assert isinstance(result, str)
    return result


def _bytes_field(fields: dict[int, list[_Occurrence]], number: int) -> bytes | None:
    if number not in fields:
        return None
    wire, value = fields[number][-1]
    if wire != 2 or not isinstance(value, bytes):
        raise _Malformed(f"wrong wire type {wire} for bytes field {number}")
    return value


def _timestamp(data: bytes, micro: bool) -> str | None:
    if not data:
        return None  # Time.Unmarshal of no bytes is the zero time
    fields = _scan(data, frozenset((1, 2)))
    seconds = _int_field(fields, 1, "int64")
    nanos = _int_field(fields, 2, "int32")
    if seconds == _GO_ZERO_SECONDS and nanos == 0:
        return None
    try:
        when = _EPOCH + datetime.timedelta(seconds=seconds, microseconds=nanos // 1000)
    except OverflowError as exc:
        raise _Malformed("timestamp out of range") from exc
    if when.year < 1 or when.year > 9999:
        raise _Malformed("timestamp out of range")
    stamp = (
        f"{when.year:04d}-{when.month:02d}-{when.day:02d}T{when.hour:02d}:{when.minute:02d}:{when.second:02d}"
    )
    return f"{stamp}.{when.microsecond:06d}Z" if micro else f"{stamp}Z"


def _fmt_frac(value: int, prec: int) -> tuple[str, int]:
    digits = ""
    printed = False
    for _ in range(prec):
        digit = value % 10
        printed = printed or digit != 0
        if printed:
            digits = str(digit) + digits
        value //= 10
    return ("." + digits if printed else ""), value


def go_duration(nanoseconds: int) -> str:
    """Format nanoseconds like Go's ``time.Duration.String`` ("1h0m0s", "1.5s", "300ms")."""
    neg = nanoseconds < 0
    u = -nanoseconds if neg else nanoseconds
    sign = "-" if neg else ""
    if u < 1_000_000_000:
        if u == 0:
            return "0s"
        if u < 1_000:
            return f"{sign}{u}ns"
        if u < 1_000_000:
            frac, whole = _fmt_frac(u, 3)
            return f"{sign}{whole}{frac}µs"
        frac, whole = _fmt_frac(u, 6)
        return f"{sign}{whole}{frac}ms"
    frac, secs = _fmt_frac(u, 9)
    out = f"{secs % 60}{frac}s"
    minutes = secs // 60
    if minutes > 0:
        out = f"{minutes % 60}m{out}"
        hours = minutes // 60
        if hours > 0:
            out = f"{hours}h{out}"
    return sign + out


def _raw_json(raw: bytes | None) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise _Malformed("embedded raw object is not valid JSON") from exc


def _special(kind: str, typ: str, data: bytes | None, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise _Malformed("messages nested too deeply")
    if kind == "time" or kind == "microtime":
        return _timestamp(data or b"", micro=kind == "microtime")
    fields = _scan(data or b"")
    if kind == "duration":
        return go_duration(_int_field(fields, 1, "int64"))
    if kind == "quantity":
        return _str_field(fields, 1) or "0"
    if kind == "intorstring":
        which = _int_field(fields, 1, "int64")
        if which == 0:
            return _int_field(fields, 2, "int32")
        if which == 1:
            return _str_field(fields, 3)
        raise _Malformed(f"impossible IntOrString type {which}")
    if kind == "rawjson":
        return _raw_json(_bytes_field(fields, 1))
    if kind == "stringlist":
        if data is None:
            return None
        return [_scalar("string", wire, value, typ) for wire, value in fields.get(1, [])]
    props = typ.rsplit(".", 1)[0] + ".JSONSchemaProps"

    def schema(number: int) -> dict[str, Any] | None:
        if number not in fields:
            return None
        return _message(props, _payload(fields[number], typ), depth + 1)

    if kind == "schemaorbool":
        found = schema(2)
        if found is not None:
            return found
        return bool(_int_field(fields, 1, "bool"))
    if kind == "schemaorarray":
        schemas = [_message(props, _payload([occ], typ), depth + 1) for occ in fields.get(2, [])]
        return schemas if schemas else schema(1)
    if kind == "schemaorstringarray":
        strings = [_scalar("string", wire, value, typ) for wire, value in fields.get(2, [])]
        return strings if strings else schema(1)
    raise _Malformed(f"unsupported special type {kind}")


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def is_protobuf_content_type(content_type: str | None) -> bool:
    """True for ``application/vnd.kubernetes.protobuf`` (parameters and case ignored)."""
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == PROTOBUF_CONTENT_TYPE


def message_name(api_version: str, kind: str) -> str | None:
    """The protobuf message for ``(apiVersion, kind)``, or None when the table has none.

    ``apps/v1 Deployment`` -> ``k8s.io.api.apps.v1.Deployment``; ``v1 Namespace`` ->
    ``k8s.io.api.core.v1.Namespace``; meta kinds (``DeleteOptions``, ``Status``) sent under any
    version resolve to ``k8s.io.apimachinery.pkg.apis.meta.v1``.
    """
    if not kind or not api_version:
        return None
    group, _, version = api_version.rpartition("/")
    package = _GROUP_PACKAGES.get(group) or f"k8s.io.api.{group.split('.', 1)[0]}"
    messages = _table().messages
    for candidate in (f"{package}.{version}.{kind}", f"{_META_PACKAGE}.{kind}"):
        if candidate in messages:
            return candidate
    return None


def field_names(name: str) -> tuple[str, ...]:
    """The JSON names of message ``name``'s fields in Go struct order (inline fields skipped)."""
    fields = _table().messages.get(name, ())
    return tuple(f.name for f in fields if not f.flags & _F_INLINE)


def map_field_names(name: str) -> frozenset[str]:
    """The JSON names of message ``name``'s map fields (Go prints their keys sorted)."""
    fields = _table().messages.get(name, ())
    return frozenset(f.name for f in fields if f.flags & _F_MAP)


def zero_field(api_version: str, kind: str, field: str) -> Any:
    """Go's JSON of field ``field`` of ``kind`` at its zero value (``None`` when the table lacks it).

    A built-in's ``status`` is a non-pointer struct upstream: a new object prints it with the fields
    that have no ``omitempty`` at their zero value (a Service's ``{"loadBalancer": {}}``, an HPA's
    ``{"desiredReplicas": 0, "currentMetrics": null}``). Decoding an empty message gives exactly that.
    """
    message = message_name(api_version, kind)
    fields = _table().messages.get(message or "", ())
    for f in fields:
        if f.name == field and f.type in _table().messages:
            return decode_message(f.type, b"")
    return None


def decode_message(name: str, data: bytes) -> Any:
    """Decode ``data`` as the fully qualified message ``name`` into its JSON value."""
    try:
        if name not in _table().messages:
            raise _Malformed(f"no protobuf message description for {name}")
        return _value(name, bytes(data), 0)
    except _Malformed as exc:
        raise _bad_request(str(exc)) from None
    except Exception as exc:  # the contract: malformed input is a 400, whatever broke
        raise _bad_request(f"invalid message ({type(exc).__name__})") from None


def decode_k8s_protobuf(body: bytes) -> dict[str, Any]:
    """Decode a ``k8s\\x00`` + ``runtime.Unknown`` body into the object's JSON dict.

    The result carries ``kind`` and ``apiVersion`` from the envelope's typeMeta, followed by the
    object's fields exactly as Go's JSON encoding of the same object would give them.
    """
    body = bytes(body)
    if not body.startswith(MAGIC):
        raise _bad_request("missing the k8s protobuf magic prefix")
    try:
        envelope = _scan(body[len(MAGIC) :])
        type_meta = _scan(_payload(envelope[1], "typeMeta")) if 1 in envelope else {}
        api_version = _str_field(type_meta, 1)
        kind = _str_field(type_meta, 2)
        raw = _bytes_field(envelope, 2) or b""
        encoding = _str_field(envelope, 3)
    except _Malformed as exc:
        raise _bad_request(str(exc)) from None
    if encoding:
        raise _bad_request(f"unsupported content encoding {encoding!r}")
    if not kind or not api_version:
        raise _bad_request("the envelope has no apiVersion/kind")
    name = message_name(api_version, kind)
    if name is None:
        raise _bad_request(f"no protobuf message known for {api_version}, Kind={kind}")
    obj = decode_message(name, raw)
    if not isinstance(obj, dict):
        raise _bad_request(f"{name} does not decode to an object")
    return {"kind": kind, "apiVersion": api_version, **obj}
