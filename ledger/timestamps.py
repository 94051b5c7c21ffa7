"""UTC instants: the only time representation inside the ledger (no clock reads: times arrive on commands)."""
from __future__ import annotations

from datetime import UTC, datetime

from .errors import InvalidTimestamp


def to_utc(value: datetime | str) -> datetime:
    """Accept an aware datetime or an ISO-8601 string with an offset (``Z`` allowed); return it in UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise InvalidTimestamp(f"not an ISO-8601 time: {value!r}") from exc
    if not isinstance(value, datetime):
        raise InvalidTimestamp(f"not a time: {value!r}")
    # A naive time is ambiguous across hosts; refusing it beats silently guessing the zone.
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidTimestamp(f"time lacks a UTC offset: {value.isoformat()}")
    return value.astimezone(UTC)


def format_exact(moment: datetime) -> str:
    """Microsecond precision, so serialised events round-trip exactly: 2024-02-01T00:00:00.000000Z."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def format_millis(moment: datetime) -> str:
    """The public API's form: 2024-02-01T00:00:00.000Z."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
