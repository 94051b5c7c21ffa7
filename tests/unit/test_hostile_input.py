"""The pure rules that keep hostile input from a 500 and keep abuse bounded: JSON bodies parsed with limits, the
text check both API surfaces share, and the failed-authentication decisions."""
from __future__ import annotations

import json

import pytest

from frontdoor import abuse, safe_json
from service_layer.errors import InvalidInput
from service_layer.speech import check_text_characters, price_of_text

# --- JSON bodies ------------------------------------------------------------------------------------------------------

def test_deep_nesting_is_a_decode_error_not_a_recursion_error():
    with pytest.raises(json.JSONDecodeError, match="nested deeper"):
        safe_json.loads(b"[" * 100_000 + b"]" * 100_000)


def test_nesting_past_the_limit_is_refused_even_when_python_could_parse_it():
    depth = safe_json.MAX_JSON_DEPTH
    assert safe_json.loads("[" * depth + "]" * depth) is not None
    with pytest.raises(json.JSONDecodeError, match="nested deeper"):
        safe_json.loads("[" * (depth + 1) + "]" * (depth + 1))
    with pytest.raises(json.JSONDecodeError, match="nested deeper"):
        safe_json.loads('{"a":' * (depth + 1) + "1" + "}" * (depth + 1))


@pytest.mark.parametrize("body", ['{"text": "a\\ud800b"}', '{"\\udfff": 1}', '["ok", ["\\ud83d"]]'])
def test_lone_surrogates_are_refused_in_values_and_keys(body):
    with pytest.raises(json.JSONDecodeError, match="surrogate"):
        safe_json.loads(body)


def test_a_surrogate_pair_is_one_valid_character():
    assert safe_json.loads('{"text": "\\ud83d\\ude00"}') == {"text": "\U0001F600"}


@pytest.mark.parametrize("raw", [b'{"text": "\xff"}', b"\xfe\xff"])
def test_bytes_that_are_not_utf8_are_a_decode_error(raw):
    with pytest.raises(json.JSONDecodeError, match="not UTF-8"):
        safe_json.loads(raw)


def test_a_huge_integer_is_a_decode_error():
    with pytest.raises(json.JSONDecodeError):
        safe_json.loads('{"voiceId": ' + "9" * 5000 + "}")


def test_every_refusal_has_a_document_so_webargs_never_reads_it_as_no_body():
    # webargs treats a JSONDecodeError whose doc is "" as a missing body (then: "Missing data for required field").
    for body in ["[" * 5000, '["\\ud800"]', b"\xff"]:
        with pytest.raises(json.JSONDecodeError) as caught:
            safe_json.loads(body)
        assert caught.value.doc != ""


# --- text of a speech (both surfaces) ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["a\x00b", "bell\x07", "del\x7f", "c1\x85", "esc\x1b[31m", "lone\ud800"])
def test_control_characters_and_surrogates_are_refused(text):
    with pytest.raises(InvalidInput, match="only tab, newline and carriage return"):
        price_of_text(text)


@pytest.mark.parametrize("text,price", [("line one\nline two\ttab\r\n", 23), ("Grüße 😀", 12),
                                        ("zero\u200bwidth", 12)])
def test_ordinary_text_with_tab_newline_and_format_characters_is_priced_by_bytes(text, price):
    check_text_characters(text)
    assert price_of_text(text) == price


def test_the_error_names_the_character_and_where_it_is():
    with pytest.raises(InvalidInput, match=r"U\+0000 at position 5"):
        check_text_characters("hello\x00")


# --- failed authentication ------------------------------------------------------------------------------------------

BUDGET = abuse.AuthBudget(per_client=3, overall=10)


@pytest.mark.parametrize("mine,everyone,refused", [
    (0, 0, False), (2, 2, False), (3, 3, True),     # the address's own budget
    (0, 10, False),                                   # past the global budget, an address that never failed
    (1, 10, True),                                    # ... and one that did
    (2, 9, False),
])
def test_auth_refusal(mine, everyone, refused):
    assert (abuse.auth_refusal(mine, everyone, BUDGET) is not None) is refused


@pytest.mark.parametrize("key,plausible", [
    ("vf_" + "A" * 43, True), ("short-demo-key", True),
    ("", False), ("a" * 257, False), ("has space", False), ("tab\tkey", False), ("ключ", False),
])
def test_plausible_key(key, plausible):
    assert abuse.plausible_key(key) is plausible
