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


def test_word_errors_count_what_the_rate_divides():
    text = "Glue the sheet to the dark blue background."
    speech, rate = voice_audio.read_wav(voice_audio.flite_wav(text, voice="slt"))
    recogniser = intelligibility.Recogniser()
    assert recogniser.word_errors(text, speech, rate) == round(recogniser.word_error_rate(text, speech, rate) * 8)
    assert recogniser.word_errors(text, np.zeros(16000, np.float32), 16000) == 8     # nothing heard: all deleted


def _changes(labels: np.ndarray) -> list[str]:
    """The phones in the order heard (a run of frames with one label counts once; silence left out)."""
    return [intelligibility.PHONES[p - 1] for i, p in enumerate(labels) if p and (i == 0 or labels[i - 1] != p)]


def test_the_phone_labeller_hears_the_sounds_of_speech_in_order_and_none_in_silence():
    speech, rate = voice_audio.read_wav(voice_audio.flite_wav("She sees the sea.", voice="slt"))
    pad = np.random.default_rng(0).normal(0, 1e-3, rate // 2).astype(np.float32)   # a quiet room, -60 dB
    audio = np.concatenate([pad, speech, pad])
    frames = int(len(audio) / rate / 0.005)
    labels = intelligibility.shared_labeller().label(audio, rate, frames, 0.005)
    assert labels.shape == (frames,) and labels.dtype == np.uint8
    assert not labels[: int(0.4 / 0.005)].any()                  # the leading quiet: silence
    assert not labels[-int(0.4 / 0.005):].any()                  # and the trailing one
    heard = _changes(labels)
    sibilants = [i for i, p in enumerate(heard) if p in ("S", "SH", "Z")]
    assert len(sibilants) >= 2, heard
    assert {"IY", "IH"} & set(heard[sibilants[0]:]), heard       # a close front vowel after a sibilant: "she"
    # at 24 kHz (Kokoro's rate) the same speech is labelled much the same
    import soxr

    again = intelligibility.shared_labeller().label(soxr.resample(audio, rate, 24000), 24000, frames, 0.005)
    assert (again == labels).mean() > 0.8


def test_the_phone_search_keeps_up_to_the_end_of_a_long_text():
    # narrow beams (tried once for speed) let the search die after a second or two: one phone ran to the end
    text = ("When the sunlight strikes raindrops in the air, they act as a prism and form a rainbow. The rainbow is "
            "a division of white light into many beautiful colors. These take the shape of a long round arch.")
    speech, rate = voice_audio.read_wav(voice_audio.flite_wav(text, voice="slt"))
    assert len(speech) / rate > 8.0
    frames = int(len(speech) / rate / 0.01)
    labels = intelligibility.shared_labeller().label(speech, rate, frames, 0.01)
    last_3s = labels[-300:]
    assert len(_changes(last_3s)) >= 15, _changes(last_3s)       # ≈ 10 phones a second are spoken
    assert len(_changes(labels)) >= 5 * len(speech) / rate


def test_known_words_are_aligned_phone_by_phone_and_unknown_ones_fall_back_to_the_search():
    speech, rate = voice_audio.read_wav(voice_audio.flite_wav("She sees the sea.", voice="slt"))
    frames = int(len(speech) / rate / 0.005)
    labeller = intelligibility.shared_labeller()
    aligned = labeller.label(speech, rate, frames, 0.005, transcript="She sees the sea.")
    # exactly the dictionary's phones of the words, in order (the search alone hears other ones)
    assert _changes(aligned) == ["SH", "IY", "S", "IY", "Z", "DH", "AH", "S", "IY"]
    searched = labeller.label(speech, rate, frames, 0.005)
    assert (aligned > 0).mean() > 0.6 and (aligned != searched).any()
    # a word the dictionary lacks, or no words at all: the all-phone search's labels (≈: its live cepstral mean
    # normalisation carries over from one call to the next)
    for transcript in ("She sees the qzxvw.", " ... "):
        fallback = labeller.label(speech, rate, frames, 0.005, transcript=transcript)
        assert (fallback == searched).mean() > 0.9 > (fallback == aligned).mean()


def test_audio_shorter_than_a_decoder_frame_has_no_phones():
    labeller = intelligibility.shared_labeller()
    for samples in (np.zeros(0, np.float32), np.full(100, 0.1, np.float32)):
        for transcript in (None, "she sees"):
            labels = labeller.label(samples, 16000, 3, 0.01, transcript=transcript)
            assert labels.tolist() == [0, 0, 0]


def test_the_phone_search_gives_its_segments_in_order_with_silence_at_the_ends():
    speech, rate = voice_audio.read_wav(voice_audio.flite_wav("She sees the sea.", voice="slt"))
    pad = np.random.default_rng(0).normal(0, 1e-3, rate // 2).astype(np.float32)
    segments = intelligibility.shared_labeller().phones(np.concatenate([pad, speech, pad]), rate)
    names = [name for name, _, _ in segments]
    assert names[0] == names[-1] == "SIL"
    assert all(a[2] < b[1] for a, b in zip(segments, segments[1:], strict=False))    # in order, not overlapping
    spoken = [name for name in names if name in intelligibility.PHONES]
    assert {"S", "SH"} & set(spoken) and {"IY", "IH"} & set(spoken), names
    assert intelligibility.shared_labeller().phones(np.zeros(100, np.float32), rate) == []   # under one frame
