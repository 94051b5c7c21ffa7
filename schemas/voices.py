"""The built-in SYSTEM voices: public, usable by every account, spoken by the base synthesizer."""
from __future__ import annotations

from datetime import datetime, timezone

_SEEDED_AT = datetime(2026, 1, 1, tzinfo=timezone.utc)

# (voice id, title, description, engine voice name, tags)
_SYSTEM_VOICES = (
    ("sys_slt", "Sally", "US English, female (flite slt)", "slt", ["female", "american"]),
    ("sys_awb", "Alan", "Scottish English, male (flite awb)", "awb", ["male", "scottish"]),
    ("sys_rms", "Richard", "US English, male (flite rms)", "rms", ["male", "american"]),
    ("sys_kal", "Kal", "US English, male diphone voice (flite kal16)", "kal16", ["male", "american", "classic"]),
)


def system_voice_documents() -> list[dict]:
    return [
        {
            "_id": voice_id,
            "accountId": None,
            "type": "SYSTEM",
            "isPublic": True,
            "status": "COMPLETED",
            "title": title,
            "description": description,
            "coverImage": None,
            "audioUrl": None,
            "duration": None,
            "tags": tags,
            "engineVoice": engine_voice,
            "createdAt": _SEEDED_AT,
            "updatedAt": _SEEDED_AT,
        }
        for voice_id, title, description, engine_voice, tags in _SYSTEM_VOICES
    ]
