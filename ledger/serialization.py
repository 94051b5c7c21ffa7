"""Commands and events to and from plain JSON-able dicts: {"type": <WIRE_NAME>, "version": <int>, fields...}.

Times are written as ISO-8601 UTC with microseconds and a Z, so `from_dict(to_dict(x)) == x` exactly. Reading
is strict (unknown type or version, missing or extra fields, wrong value types are errors): a message that does
not round-trip is better refused at the edge than half-understood by the ledger.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, TypeVar

from .commands import COMMAND_TYPES, Command
from .errors import InvalidTimestamp, SerializationError
from .events import EVENT_TYPES, Event
from .message import Message, field_types
from .timestamps import format_exact, to_utc

_M = TypeVar("_M", bound=Message)



def _by_wire_name(types: tuple[type[_M], ...]) -> dict[str, type[_M]]:
    found: dict[str, type[_M]] = {}
    for cls in types:
        name = cls.__dict__.get("WIRE_NAME")  # its own, not a parent's
        if not isinstance(name, str) or name in found:
            raise TypeError(f"{cls.__qualname__} needs its own, unique WIRE_NAME")
        found[name] = cls
    return found


_EVENTS_BY_NAME = _by_wire_name(EVENT_TYPES)
_COMMANDS_BY_NAME = _by_wire_name(COMMAND_TYPES)


def to_dict(message: Command | Event) -> dict[str, Any]:
    data: dict[str, Any] = {"type": message.WIRE_NAME, "version": message.VERSION}
    for field in dataclasses.fields(message):
        value = getattr(message, field.name)
        if isinstance(value, datetime):
            value = format_exact(value)
        elif isinstance(value, str):
            value = str(value)  # a StrEnum member becomes its plain value
        data[field.name] = value
    return data


def event_from_dict(data: dict[str, Any]) -> Event:
    return _from_dict(data, _EVENTS_BY_NAME, "event")


def command_from_dict(data: dict[str, Any]) -> Command:
    return _from_dict(data, _COMMANDS_BY_NAME, "command")


def _from_dict(data: dict[str, Any], known: dict[str, type[_M]], what: str) -> _M:
    if not isinstance(data, dict):
        raise SerializationError(f"a serialised {what} must be a dict, got {type(data).__name__}")
    cls = known.get(data.get("type"))  # type: ignore[arg-type]
    if cls is None:
        raise SerializationError(f"unknown {what} type {data.get('type')!r}")
    if data.get("version") != cls.VERSION or type(data.get("version")) is not int:
        raise SerializationError(f"{cls.__name__} version {data.get('version')!r} is not supported "
                                 f"(want {cls.VERSION})")
    types = field_types(cls)
    given = set(data) - {"type", "version"}
    if given != set(types):
        missing, extra = sorted(set(types) - given), sorted(given - set(types))
        raise SerializationError(f"{cls.__name__}: missing fields {missing}, unexpected fields {extra}")
    return cls(**{name: _read(cls, name, kind, data[name]) for name, kind in types.items()})


def _read(cls: type, name: str, kind: type, value: Any) -> Any:
    if kind is datetime:
        if not isinstance(value, str):
            raise SerializationError(f"{cls.__name__}.{name} must be an ISO-8601 string, got {value!r}")
        try:
            return to_utc(value)
        except InvalidTimestamp as exc:
            raise SerializationError(f"{cls.__name__}.{name}: {exc}") from exc
    if type(value) is not kind:  # exact: a bool is not an int, and an int is not a str
        raise SerializationError(f"{cls.__name__}.{name} must be {kind.__name__}, got {value!r}")
    return value
