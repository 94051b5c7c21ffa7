"""JSON request bodies parsed with limits: the standard parser recurses once per nesting level (a body nested
100,000 deep raises RecursionError, not ValueError) and accepts lone surrogate escapes ("\\ud800") that no UTF-8
consumer downstream (Kafka envelopes, MongoDB, the models) can encode. Both become a 400, as malformed JSON."""
from __future__ import annotations

import json
import re
from typing import Any

MAX_JSON_DEPTH = 32  # every documented body is flat (depth 1 or 2); room to spare for clients' extras
_SURROGATE = re.compile("[\ud800-\udfff]")


class UnsafeJson(json.JSONDecodeError):
    """A body refused before or after parsing; a JSONDecodeError so every caller's handler already applies."""

    def __init__(self, reason: str, doc: str = "?"):  # webargs reads doc "" as "no body"
        super().__init__(reason, doc, 0)


def loads(raw: bytes | str) -> Any:
    """``json.loads`` that raises :class:`json.JSONDecodeError` for undecodable bytes, nesting deeper than
    MAX_JSON_DEPTH and strings (values or keys) holding a lone surrogate."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnsafeJson(f"not UTF-8 (byte {exc.start})", "?") from None
    else:
        text = raw
    try:
        value = json.loads(text)
    except RecursionError:
        raise UnsafeJson(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except json.JSONDecodeError:
        raise
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise UnsafeJson(str(exc)) from None
    check(value)
    return value


def check(value: Any) -> None:
    """Walk a parsed value without recursion (its depth is what is being checked)."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, str):
            if not node.isascii() and _SURROGATE.search(node):
                raise UnsafeJson("a string holds a lone UTF-16 surrogate (not valid Unicode text)", "?")
        elif isinstance(node, (dict, list)):
            if depth >= MAX_JSON_DEPTH:
                raise UnsafeJson(f"nested deeper than {MAX_JSON_DEPTH} levels", "?")
            items = [*node.keys(), *node.values()] if isinstance(node, dict) else node
            pending.extend((item, depth + 1) for item in items)
