"""Publishes public completion events for outside consumers (the documented completions topic, key = account
id): SpeechCompleted / SpeechFailed / VoiceReady / VoiceFailed of every job that ended."""
from __future__ import annotations

from .app import app, jobs_topic, read_record, send
from .completion_logic import public_envelope, public_message


async def notify_record(key: bytes | None, value: bytes | None, *, dead_letters: bool = True) -> None:
    read = await read_record(key, value, "notifier", dead_letters=dead_letters)
    if read is None:
        return
    envelope, job_event = read
    public = public_message(job_event)
    if public is not None:
        await send(public, public_envelope(envelope, public))


@app.agent(jobs_topic)
async def notify(stream):
    async for event in stream.events():
        await notify_record(event.key, event.value)
