"""Usage history cursors: opaque, stable, and anything else is a 400."""
from __future__ import annotations

import pytest

from frontdoor.errors import ApiError
from frontdoor.usage import decode_cursor, encode_cursor


def test_cursors_round_trip_and_do_not_show_their_content():
    for sequence in (1, 7, 123456789):
        cursor = encode_cursor(sequence)
        assert decode_cursor(cursor) == sequence
        assert str(sequence) not in cursor and "=" not in cursor


@pytest.mark.parametrize("cursor", ["", "abc", "!!!", encode_cursor(5)[:-2] + "zz", "aDE6LTU", "aDE6MA", "aDI6NQ"])
def test_a_cursor_we_did_not_issue_is_invalid_parameters(cursor):
    with pytest.raises(ApiError) as err:
        decode_cursor(cursor)
    assert err.value.status == 400 and err.value.code == "INVALID_PARAMETERS"


def test_a_cursor_beyond_what_mongodb_can_compare_is_invalid():
    import base64

    huge = base64.urlsafe_b64encode(b"h1:" + b"9" * 30).decode().rstrip("=")
    with pytest.raises(ApiError):
        decode_cursor(huge)
