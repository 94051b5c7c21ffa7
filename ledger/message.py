"""What commands and events share: frozen, keyword-only dataclasses whose times are UTC datetimes."""
from __future__ import annotations

import dataclasses
import typing
from datetime import datetime
from typing import Any, ClassVar

from .timestamps import to_utc


@dataclasses.dataclass(frozen=True, kw_only=True)
class Message:
    VERSION: ClassVar[int] = 1  # bump when a subclass's fields change meaning; serialisation checks it
    # The name written in the serialised form's "type" (and, for events, the ledger envelope's name). Declared on
    # every concrete class, never derived from the class name: the ledger topic is kept for ever, so renaming a
    # class must not rename what is already written.
    WIRE_NAME: ClassVar[str]

    def __post_init__(self) -> None:
        # Times may arrive as ISO strings or in any zone; store them as UTC datetimes so equal instants compare
        # equal and serialise identically.
        for name in time_field_names(type(self)):
            object.__setattr__(self, name, to_utc(getattr(self, name)))


# Per-class caches as plain dicts: functools.cache would do, but mypy rejects a dataclass class as its (Hashable)
# argument.
_FIELD_TYPES: dict[type[Message], dict[str, Any]] = {}
_TIME_FIELDS: dict[type[Message], tuple[str, ...]] = {}


def field_types(cls: type[Message]) -> dict[str, Any]:
    """Field name -> resolved type (int, str or datetime) for a Message subclass."""
    if cls not in _FIELD_TYPES:
        hints = typing.get_type_hints(cls)
        _FIELD_TYPES[cls] = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
    return _FIELD_TYPES[cls]


def time_field_names(cls: type[Message]) -> tuple[str, ...]:
    if cls not in _TIME_FIELDS:
        _TIME_FIELDS[cls] = tuple(name for name, kind in field_types(cls).items() if kind is datetime)
    return _TIME_FIELDS[cls]
