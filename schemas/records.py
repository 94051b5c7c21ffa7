"""Typed JSON objects: frozen dataclasses that encode to and decode from plain JSON dicts by their type hints.

A field's JSON key is its name in camelCase (``job_id`` -> ``jobId``) unless its metadata names one. Reading is
strict about types (a str field never takes a number) and tolerant about unknown keys, which are ignored: a
producer one release ahead may add an optional field without breaking the consumers still running the old code.
No I/O; used by schemas/messages.py for every event payload.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Self, Union, get_args, get_origin

from .events import EventDecodeError

JsonObject = dict[str, Any]


class MessageDecodeError(EventDecodeError):
    """A payload that does not fit its declared type (missing field, wrong type, unknown name or version)."""


def meta(*, key: str | None = None, doc: str = "", omit_none: bool = False, flat: bool = False,
         schema: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Field metadata: ``key`` (JSON key, default camelCase of the name), ``doc`` (one line for the catalogue),
    ``omit_none`` (leave the key out when the value is None, so older payloads keep their exact shape), ``flat``
    (a record whose fields sit beside its owner's: the owner's to_dict/from_dict does it; the catalogue says so)
    and ``schema`` (extra JSON-schema keywords for the AsyncAPI document, e.g. {"minimum": 0})."""
    return {"key": key, "doc": doc, "omit_none": omit_none, "flat": flat, "schema": dict(schema or {})}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def wire_key(f: dataclasses.Field[Any]) -> str:
    key = f.metadata.get("key")
    return key if isinstance(key, str) else camel(f.name)


_HINTS: dict[type, dict[str, Any]] = {}


def field_hints(cls: type) -> dict[str, Any]:
    """Field name -> resolved type hint (cached per class)."""
    hints = _HINTS.get(cls)
    if hints is None:
        resolved = typing.get_type_hints(cls)
        hints = _HINTS[cls] = {f.name: resolved[f.name] for f in dataclasses.fields(cls)}
    return hints


@dataclass(frozen=True, kw_only=True)
class Record:
    """A JSON object with typed fields."""

    @classmethod
    def matches(cls, data: Mapping[str, Any]) -> bool:
        """Whether ``data`` is this variant when a field's type is a union of records (see TtsJob / CloneJob)."""
        return True

    def to_dict(self) -> JsonObject:
        out: JsonObject = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None and f.metadata.get("omit_none"):
                continue
            out[wire_key(f)] = encode_value(value)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        if not isinstance(data, Mapping):
            raise MessageDecodeError(f"{cls.__name__} must be a JSON object, got {type(data).__name__}")
        hints = field_hints(cls)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            key = wire_key(f)
            if key not in data:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise MessageDecodeError(f"{cls.__name__} lacks {key!r}")
                continue
            values[f.name] = decode_value(hints[f.name], data[key], f"{cls.__name__}.{key}")
        return cls(**values)


def encode_value(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [encode_value(v) for v in value]
    if isinstance(value, dict):
        return dict(value)
    return value


def _is_record(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, Record)


def decode_value(tp: Any, value: Any, where: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return decode_value(options[0], value, where)
        if all(_is_record(a) for a in options) and isinstance(value, Mapping):
            for option in options:
                if option.matches(value):
                    return option.from_dict(value)
        raise MessageDecodeError(f"{where}: {value!r} is none of {[getattr(a, '__name__', a) for a in options]}")
    if origin is Literal:
        if value in get_args(tp) and isinstance(value, str | int):
            return value
        raise MessageDecodeError(f"{where} must be one of {list(get_args(tp))}, got {value!r}")
    if origin is tuple:
        if not isinstance(value, list):
            raise MessageDecodeError(f"{where} must be an array, got {value!r}")
        return tuple(decode_value(get_args(tp)[0], item, where) for item in value)
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise MessageDecodeError(f"{where} must be an object, got {value!r}")
        return dict(value)
    if _is_record(tp):
        return tp.from_dict(value)
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif tp in (int, str, bool):
        if type(value) is tp:  # exact: a bool is not an int
            return value
    else:  # pragma: no cover - a field type this module does not know is a programming error
        raise TypeError(f"{where}: unsupported field type {tp!r}")
    raise MessageDecodeError(f"{where} must be {tp.__name__}, got {value!r}")
