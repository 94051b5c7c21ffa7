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
