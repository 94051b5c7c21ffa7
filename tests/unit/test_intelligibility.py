"""voicekit.intelligibility: word error rates, and pocketsphinx (bundled models) on real synthetic speech."""
from __future__ import annotations

import numpy as np
import pytest

from tests import voice_audio
from voicekit import intelligibility


def test_words_ignore_case_and_punctuation():
    assert intelligibility.words("Glue the sheet, to the DARK blue background!") == \
        ["glue", "the", "sheet", "to", "the", "dark", "blue", "background"]


@pytest.mark.parametrize("hypothesis, errors", [
    ("the dark blue background", 0),
    ("the dark background", 1),               # a deletion
    ("the dark blue blue background", 1),     # an insertion
    ("a dark blew background", 2),            # two substitutions
    ("", 4),
])
def test_word_error_rate_counts_edits_per_reference_word(hypothesis, errors):
    assert intelligibility.word_error_rate("The dark blue background.", hypothesis) == errors / 4
    assert intelligibility.word_error_rate("", hypothesis) == 0.0


def test_the_recogniser_follows_clear_speech_and_hears_no_words_in_a_tone():
    text = "Glue the sheet to the dark blue background. It is easy to tell the depth of a well."
    speech, rate = voice_audio.read_wav(voice_audio.flite_wav(text, voice="slt"))
    recogniser = intelligibility.Recogniser()
    clear = recogniser.word_error_rate(text, speech, rate)          # flite's 16 kHz, resampled to 16 kHz: no-op
    assert clear <= 0.35, recogniser.transcribe(speech, rate)
    # the same speech at 24 kHz (Kokoro's rate) is resampled first and heard as well
    import soxr

    assert recogniser.word_error_rate(text, soxr.resample(speech, rate, 24000), 24000) <= clear + 0.15
    assert recogniser.word_error_rate(text, voice_audio.tone(3.0), 16000) >= 0.9
    assert recogniser.word_error_rate(text, np.zeros(16000, np.float32), 16000) >= 0.9


@pytest.mark.parametrize("fast", [False, True])
def test_the_phone_labeller_hears_the_sounds_of_speech_in_order_and_none_in_silence(fast):
    speech, rate = voice_audio.read_wav(voice_audio.flite_wav("She sees the sea.", voice="slt"))
    pad = np.random.default_rng(0).normal(0, 1e-3, rate // 2).astype(np.float32)   # a quiet room, -60 dB
    audio = np.concatenate([pad, speech, pad])
    frames = int(len(audio) / rate / 0.005)
    labels = intelligibility.shared_labeller(fast).label(audio, rate, frames, 0.005)
    assert labels.shape == (frames,) and labels.dtype == np.uint8
    assert not labels[: int(0.4 / 0.005)].any()                  # the leading quiet: silence
    if not fast:  # the fast search's narrow beams can run a phone on into the trailing quiet
        assert not labels[-int(0.4 / 0.005):].any()
    heard = [intelligibility.PHONES[p - 1] for i, p in enumerate(labels) if p and (i == 0 or labels[i - 1] != p)]
    sibilants = [i for i, p in enumerate(heard) if p in ("S", "SH", "Z")]
    assert len(sibilants) >= 2, heard
    assert {"IY", "IH"} & set(heard[sibilants[0]:]), heard       # a close front vowel after a sibilant: "she"
    # at 24 kHz (Kokoro's rate) the same speech is labelled much the same
    import soxr

    again = intelligibility.shared_labeller(fast).label(soxr.resample(audio, rate, 24000), 24000, frames, 0.005)
    assert (again == labels).mean() > 0.8
