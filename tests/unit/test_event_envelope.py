from datetime import datetime, timezone

import pytest

from schemas import events as ev


def test_envelope_round_trips_with_unicode_payload():
    event = ev.Event("JobAccepted", {"jobId": "cl1", "text": "你好, world"}, correlation_id="cl1")
    decoded = ev.decode(event.encode())
    assert decoded == event


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[]", b'{"name":"x"}', b'{"name":"x","version":"1","id":"a","occurredAt":"t","payload":{}}',
     b'{"name":1,"version":1,"id":"a","occurredAt":"t","payload":{}}',
     b'{"name":"x","version":1,"id":"a","occurredAt":"t","payload":[]}'],
)
def test_malformed_envelopes_are_refused(raw):
    with pytest.raises(ev.EventDecodeError):
        ev.decode(raw)


def test_iso_millis_has_milliseconds_and_z():
    moment = datetime(2024, 1, 1, 0, 0, 0, 123456, tzinfo=timezone.utc)
    assert ev.iso_millis(moment) == "2024-01-01T00:00:00.123Z"
    assert ev.parse_iso("2024-01-01T00:00:00.123Z") == moment.replace(microsecond=123000)
