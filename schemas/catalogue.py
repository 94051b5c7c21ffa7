"""Generates the event catalogue (docs/events.md) and the public AsyncAPI document
(schemas/completions.asyncapi.json) from the message types of schemas/messages.py.

    python -m schemas.catalogue --write   # regenerate both after changing a message type
    python -m schemas.catalogue --check   # exit 1 when either file differs from the code (a unit test does this)
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import ledger

from . import events as ev
from . import messages as msg
from .records import Record, field_hints, wire_key

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "docs" / "events.md"
ASYNCAPI = ROOT / "schemas" / "completions.asyncapi.json"

TOPIC_NOTES = {
    ev.TOPIC_REQUESTS: "Commands for the ledger agent, decided in order per account (key = account id).",
    ev.TOPIC_LEDGER: "The credit ledger: the source of truth, kept for ever (retention -1). One record per ledger "
                     "event, named as the event, with the balance right after it. Records already written must "
                     "always decode (tests/unit/test_ledger_upcasting.py).",
    ev.TOPIC_JOBS: "A job's life, from the ledger's answer to its result (key = job id).",
    ev.TOPIC_COMPLETIONS: "The public contract for outside consumers: schemas/completions.asyncapi.json, served at "
                          "/api/asyncapi.json. One event per job that ended, either surface, and one per webhook "
                          "the service disabled; key = account id, so an account's events stay in order. At least "
                          "once: deduplicate by envelope `id` (examples/completions_consumer.py). The webhook "
                          "agent POSTs the same envelopes.",
    ev.TOPIC_DEAD_LETTERS: "Messages a consumer could not decode or handle, kept for an operator.",
    ev.TOPIC_WEBHOOKS: "The webhook delivery queue (docs/webhooks.md): one message per attempt still to make, key = "
                       "delivery id. The delivery log (MongoDB) guards each attempt, so a redelivered message never "
                       "records an attempt twice.",
}
NESTED: tuple[type[Record], ...] = (msg.TtsJob, msg.CloneJob, msg.OtherJob, msg.VoiceSummary, msg.SpeechResult,
                                    msg.VoiceResult, msg.StageTimings, msg.BalanceAfter)


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if tp is Any:
        return "any"
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        names = [_type_name(a) for a in args if a is not type(None)]
        return " \\| ".join(names) + (" \\| null" if type(None) in args else "")
    if origin is Literal:
        return " \\| ".join(json.dumps(a) for a in get_args(tp))
    if origin is tuple:
        return f"array of {_type_name(get_args(tp)[0])}"
    if origin is dict or tp is dict:
        return "object"
    if isinstance(tp, type) and issubclass(tp, Record):
        return f"[{tp.__name__}](#{tp.__name__.lower()})"
    if isinstance(tp, type) and issubclass(tp, ledger.Event):
        return "ledger event (see below)"
    if isinstance(tp, type) and issubclass(tp, ledger.Command):
        return "ledger command (see below)"
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(tp, getattr(tp, "__name__", str(tp)))


def _field_rows(cls: type[Record]) -> list[str]:
    hints = field_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if isinstance(cls, type) and issubclass(cls, msg.LedgerRecord) and f.name == "ledger_event":
            tp = cls.LEDGER_EVENT
        key = "(flat)" if f.metadata.get("flat") else f"`{wire_key(f)}`"
        optional = " (omitted when null)" if f.metadata.get("omit_none") else ""
        doc = (f.metadata.get("doc") or "") + optional
        rows.append(f"| {key} | {_type_name(tp)} | {doc.strip()} |")
    return rows


def _doc(cls: type) -> str:
    return " ".join((cls.__doc__ or "").split()) if cls.__doc__ and not cls.__doc__.startswith(cls.__name__ + "(") \
        else ""


def render_markdown() -> str:
    out = [
        "# Event catalogue",
        "",
        "<!-- Generated from schemas/messages.py by `python -m schemas.catalogue --write`: do not edit by hand. -->",
        "<!-- tests/unit/test_event_catalogue.py fails when this file and the code differ. -->",
        "",
        "Every Kafka message is a JSON envelope (schemas/events.py): `name` (the wire name below), `version`, `id`, "
        "`occurredAt` (ISO-8601 UTC, milliseconds), `correlationId` (the job id where there is one) and `payload` "
        "(the fields below). Each wire name is one frozen dataclass in `schemas/messages.py`, with its name declared "
        "as `WIRE_NAME`; `schemas.messages.REGISTRY` maps names to types and `schemas.messages.read` decodes a "
        "message, upcasting older versions first (`UPCASTERS`). Readers ignore keys they do not know. Topic names "
        "get the deployment's prefix (`KAFKA_TOPIC_PREFIX`, e.g. `voiceforge.jobs`).",
        "",
        "To add an event: a dataclass in schemas/messages.py with `WIRE_NAME`, `TOPIC`, `KEY`, `PRODUCERS` and "
        "`CONSUMERS`, listed in `MESSAGE_TYPES`; then `python -m schemas.catalogue --write`. To change one already "
        "on a topic: bump its `VERSION` and add an entry to `UPCASTERS`.",
        "",
        "| Topic | Wire name | Version | Type | Key | Producers | Consumers |",
        "|---|---|---|---|---|---|---|",
    ]
    for topic in ev.ALL_TOPICS:
        for cls in msg.MESSAGE_TYPES:
            if cls.TOPIC == topic:
                out.append(f"| `{topic}` | [`{cls.WIRE_NAME}`](#{_anchor(cls)}) | {cls.VERSION} | `{cls.__name__}` | "
                           f"{cls.KEY} | {_parties(cls.PRODUCERS)} | {_parties(cls.CONSUMERS)} |")
    for topic in ev.ALL_TOPICS:
        out += ["", f"## Topic `{topic}`", "", TOPIC_NOTES[topic]]
        for cls in msg.MESSAGE_TYPES:
            if cls.TOPIC != topic:
                continue
            out += ["", f"### {cls.WIRE_NAME}", ""]
            if _doc(cls):
                out += [_doc(cls), ""]
            out += [f"Type `schemas.messages.{cls.__name__}`, version {cls.VERSION}, key: {cls.KEY}. "
                    f"Produced by {_parties(cls.PRODUCERS)}; consumed by {_parties(cls.CONSUMERS)}.", "",
                    "| Field | Type | Notes |", "|---|---|---|", *_field_rows(cls)]
    out += ["", "## Records inside payloads"]
    for record in NESTED:
        out += ["", f"### {record.__name__}", ""]
        if _doc(record):
            out += [_doc(record), ""]
        out += ["| Field | Type | Notes |", "|---|---|---|", *_field_rows(record)]
        if record is msg.BalanceAfter:
            out += ["", "On the wire `regular`, `permanent` and `resetAt` sit in a `breakdown` object, as "
                        "GET /api/v1/credits shows them."]
    out += ["", "## Ledger commands and events (`ledger/`)", "",
            "Inside `LedgerCommand.command` and the ledger records' `ledgerEvent`: "
            "`{\"type\": <WIRE_NAME>, \"version\": <int>, <fields, snake_case>}` (ledger/serialization.py, strict: "
            "unknown types, versions or fields are refused). Times are ISO-8601 UTC with microseconds.", "",
            "| Kind | Wire name | Version | Fields |", "|---|---|---|---|"]
    for kind, group in (("command", ledger.COMMAND_TYPES), ("event", ledger.EVENT_TYPES)):
        for ledger_type in group:
            fields = ", ".join(f"`{f.name}`" for f in dataclasses.fields(ledger_type))
            out.append(f"| {kind} | `{ledger_type.WIRE_NAME}` | {ledger_type.VERSION} | {fields} |")
    return "\n".join(out) + "\n"


def is_path(party: str) -> bool:
    """A producer or consumer named by its file (else a label such as "outside consumers")."""
    return party.endswith(".py") and " " not in party


def _parties(parties: tuple[str, ...]) -> str:
    return ", ".join(f"`{p}`" if is_path(p) else p for p in parties)


def _anchor(cls: type[msg.Message]) -> str:
    return "".join(c for c in cls.WIRE_NAME.lower() if c.isalnum() or c in "-_")


# --- AsyncAPI ---------------------------------------------------------------------------------------------------------

def _json_schema(tp: Any) -> dict[str, Any]:
    origin = get_origin(tp)
    if origin is Literal:
        values = list(get_args(tp))
        return {"const": values[0]} if len(values) == 1 else {"enum": values}
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1 and args[0] in (str, int, float, bool):
            return {"type": [_json_type(args[0]), "null"]}
        if len(args) == 1 and isinstance(args[0], type) and issubclass(args[0], Record):
            return {"oneOf": [payload_schema(args[0]), {"type": "null"}]}
        raise TypeError(f"no JSON schema for {tp!r}")
    return {"type": _json_type(tp)}


def _json_type(tp: Any) -> str:
    return {str: "string", int: "integer", float: "number", bool: "boolean"}[tp]


def payload_schema(cls: type[Record]) -> dict[str, Any]:
    hints = field_hints(cls)
    properties: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        prop = _json_schema(hints[f.name]) | dict(f.metadata.get("schema") or {})
        if f.metadata.get("doc"):
            prop["description"] = f.metadata["doc"]
        properties[wire_key(f)] = prop
    return {"type": "object", "required": list(properties), "additionalProperties": False,
            "properties": properties}


PUBLIC_TYPES: tuple[type[msg.Message], ...] = tuple(t for t in msg.MESSAGE_TYPES if t.TOPIC == ev.TOPIC_COMPLETIONS)


def asyncapi() -> dict[str, Any]:
    channel = f"voiceforge.{ev.TOPIC_COMPLETIONS}"
    messages = {cls.__name__: {"name": cls.WIRE_NAME,
                               "payload": {"$ref": f"#/components/schemas/{cls.__name__}Envelope"}}
                for cls in PUBLIC_TYPES}
    schemas: dict[str, Any] = {"Envelope": {
        "type": "object",
        "required": ["name", "version", "id", "occurredAt", "correlationId", "payload"],
        "properties": {
            "name": {"type": "string"},
            "version": {"type": "integer", "description": "The payload's version (each message's own, below)."},
            "id": {"type": "string", "description": "Stable across redeliveries: deduplicate by it."},
            "occurredAt": {"type": "string", "format": "date-time",
                           "description": "ISO-8601 UTC with milliseconds, e.g. 2024-01-01T00:00:15.000Z"},
            "correlationId": {"type": "string", "description": "The job id (speech id or voice id); the "
                                                                 "webhook id for webhook.disabled."},
            "payload": {"type": "object"},
        },
    }}
    for cls in PUBLIC_TYPES:
        schemas[f"{cls.__name__}Envelope"] = {"allOf": [
            {"$ref": "#/components/schemas/Envelope"},
            {"type": "object", "properties": {"name": {"const": cls.WIRE_NAME}, "version": {"const": cls.VERSION},
                                              "payload": payload_schema(cls)}},
        ]}
    return {
        "asyncapi": "2.6.0",
        "info": {
            "title": "VoiceForge public completion events",
            "version": "2.0.0",
            "description": "One event per job that ended, on either API surface (speech: /api/v1/tts, "
                           "/v1/voice-cloning/tts; voice cloning: /api/v1/voice-clone, /v1/custom-voices), on the "
                           "Kafka topic "
                           "`<KAFKA_TOPIC_PREFIX>.completions` (default `voiceforge.completions`). Key: the account "
                           "id (UTF-8), so each account's events arrive in order. Value: a JSON event envelope. "
                           "Delivery is at least once: a redelivered job event yields the same envelope `id`, so "
                           "consumers deduplicate by `id`. The same envelopes are POSTed to the account's webhooks "
                           "(docs/webhooks.md). Besides the jobs: webhook.disabled, when the service disabled one of "
                           "the account's webhooks because its deliveries kept failing.",
        },
        "defaultContentType": "application/json",
        "channels": {channel: {
            "description": "Jobs that ended, COMPLETED or FAILED: speech.completed, speech.failed, voice.ready, "
                           "voice.failed; and webhook.disabled. The topic name's prefix follows KAFKA_TOPIC_PREFIX.",
            "subscribe": {"operationId": "onJobFinished",
                          "message": {"oneOf": [{"$ref": f"#/components/messages/{cls.__name__}"}
                                                for cls in PUBLIC_TYPES]}},
        }},
        "components": {"messages": messages, "schemas": schemas},
    }


def render_asyncapi() -> str:
    return json.dumps(asyncapi(), indent=2, ensure_ascii=False) + "\n"


def outputs() -> dict[Path, str]:
    return {CATALOGUE: render_markdown(), ASYNCAPI: render_asyncapi()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.catalogue", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="regenerate docs/events.md and the AsyncAPI document")
    mode.add_argument("--check", action="store_true", help="exit 1 when a generated file differs from the code")
    args = parser.parse_args(argv)
    stale = [path for path, text in outputs().items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    if args.write:
        for path, text in outputs().items():
            path.write_text(text, encoding="utf-8")
        print(f"wrote {', '.join(str(p.relative_to(ROOT)) for p in outputs())}")
        return 0
    for path in stale:
        print(f"{path.relative_to(ROOT)} differs from the code: run python -m schemas.catalogue --write")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
