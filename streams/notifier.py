"""Publishes public completion events for outside consumers (the documented completions topic, key = account
id): SpeechCompleted / SpeechFailed / VoiceReady / VoiceFailed of every job that ended."""
from __future__ import annotations

from schemas import events as ev
from schemas import messages as msg

from .app import app, dead_letter, jobs_topic, send
from .completion_logic import public_envelope, public_message


async def notify_record(key: bytes | None, value: bytes | None, *, dead_letters: bool = True) -> None:
    try:
        envelope, job_event = msg.read(value)
    except ev.EventDecodeError as exc:
        if dead_letters:
            await dead_letter(key, value, f"notifier: {exc}")
        return
    public = public_message(job_event)
    if public is not None:
        await send(public, public_envelope(envelope, public))


@app.agent(jobs_topic)
async def notify(stream):
    async for event in stream.events():
        await notify_record(event.key, event.value)
