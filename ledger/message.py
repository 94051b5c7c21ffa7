"""What commands and events share: frozen, keyword-only dataclasses whose times are UTC datetimes."""
from __future__ import annotations

import dataclasses
import functools
import typing
from datetime import datetime
from typing import Any, ClassVar

from .timestamps import to_utc


@dataclasses.dataclass(frozen=True, kw_only=True)
class Message:
    VERSION: ClassVar[int] = 1  # bump when a subclass's fields change meaning; serialisation checks it

    def __post_init__(self) -> None:
        # Times may arrive as ISO strings or in any zone; store them as UTC datetimes so equal instants compare
        # equal and serialise identically.
        for name in time_field_names(type(self)):
            object.__setattr__(self, name, to_utc(getattr(self, name)))


@functools.cache
def field_types(cls: type[Message]) -> dict[str, Any]:
    """Field name -> resolved type (int, str or datetime) for a Message subclass."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


@functools.cache
def time_field_names(cls: type[Message]) -> tuple[str, ...]:
    return tuple(name for name, kind in field_types(cls).items() if kind is datetime)
