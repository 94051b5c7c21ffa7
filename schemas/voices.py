"""The built-in SYSTEM voices: public, usable by every account, spoken by the base synthesizer.

The default system voices are Kokoro-82M's 54 stock voices (`sys_<name>`, e.g. `sys_af_heart`), nine languages;
the flite voices (`sys_slt`, `sys_awb`, `sys_rms`, `sys_kal`) stay as fast English fallbacks. A voice's language
and sex are in its `tags` (the list items keep exactly the seed's fields) and `description`, and in the document's
`language` / `gender` (internal: the text's default language).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

_SEEDED_AT = datetime(2026, 1, 1, tzinfo=timezone.utc)

# Kokoro v1.0 voice names: <language letter><f|m>_<name>; the models' voicekit.kokoro reads them the same way.
KOKORO_VOICES = (
    "af_alloy af_aoede af_bella af_heart af_jessica af_kore af_nicole af_nova af_river af_sarah af_sky am_adam "
    "am_echo am_eric am_fenrir am_liam am_michael am_onyx am_puck am_santa bf_alice bf_emma bf_isabella bf_lily "
    "bm_daniel bm_fable bm_george bm_lewis ef_dora em_alex em_santa ff_siwis hf_alpha hf_beta hm_omega hm_psi "
    "if_sara im_nicola jf_alpha jf_gongitsune jf_nezumi jf_tebukuro jm_kumo pf_dora pm_alex pm_santa zf_xiaobei "
    "zf_xiaoni zf_xiaoxiao zf_xiaoyi zm_yunjian zm_yunxi zm_yunxia zm_yunyang"
).split()
# language letter → (language code, language name, tag)
_KOKORO_LANGUAGES = {
    "a": ("en-us", "US English", "american"), "b": ("en-gb", "British English", "british"),
    "e": ("es", "Spanish", "spanish"), "f": ("fr", "French", "french"), "h": ("hi", "Hindi", "hindi"),
    "i": ("it", "Italian", "italian"), "j": ("ja", "Japanese", "japanese"),
    "p": ("pt-br", "Brazilian Portuguese", "brazilian"), "z": ("zh", "Mandarin Chinese", "mandarin"),
}


def _kokoro_voice(name: str) -> tuple[str, str, str, str, list[str], str, str]:
    language, language_name, tag = _KOKORO_LANGUAGES[name[0]]
    gender = "female" if name[1] == "f" else "male"
    title = name.split("_", 1)[1].capitalize()
    return (f"sys_{name}", title, f"{language_name}, {gender} (Kokoro-82M {name})", name,
            [gender, language, tag, "kokoro"], language, gender)


# (voice id, title, description, engine voice name, tags, language, gender)
_FLITE_VOICES = (
    ("sys_slt", "Sally", "US English, female (flite slt)", "slt", ["female", "american"], "en-us", "female"),
    ("sys_awb", "Alan", "Scottish English, male (flite awb)", "awb", ["male", "scottish"], "en-gb", "male"),
    ("sys_rms", "Richard", "US English, male (flite rms)", "rms", ["male", "american"], "en-us", "male"),
    ("sys_kal", "Kal", "US English, male diphone voice (flite kal16)", "kal16", ["male", "american", "classic"],
     "en-us", "male"),
)
_SYSTEM_VOICES = tuple(_kokoro_voice(name) for name in KOKORO_VOICES) + _FLITE_VOICES


def system_voice_documents() -> list[dict[str, Any]]:
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
            "language": language,
            "gender": gender,
            "createdAt": _SEEDED_AT,
            "updatedAt": _SEEDED_AT,
        }
        for voice_id, title, description, engine_voice, tags, language, gender in _SYSTEM_VOICES
    ]
