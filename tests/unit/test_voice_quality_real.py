"""Pure parts of the real-speaker benchmark: the channel band limit and the beats-every-other-speaker test."""
import numpy as np
import pytest

pytest.importorskip("soxr")

from bench.voice_quality_real import band_limit, beats_every_other  # noqa: E402

RATE = 16000


def tone(freq: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def rms(x: np.ndarray) -> float:
    x = x[RATE // 10: -RATE // 10]  # away from the filters' edges
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def test_telephone_band_removes_energy_above_4khz_and_keeps_speech_band():
    high, low = tone(6000), tone(1000)
    assert rms(band_limit(high, 8000)) < 0.01 * rms(high)
    assert rms(band_limit(low, 8000)) == pytest.approx(rms(low), rel=0.02)


def test_band_limit_keeps_length_and_leaves_wideband_sources_alone():
    x = np.random.default_rng(0).standard_normal(12345).astype(np.float32) * 0.1
    assert len(band_limit(x, 8000)) == len(x)
    assert np.array_equal(band_limit(x, 22050), x)
    assert np.array_equal(band_limit(x, 16000), x)


def test_beats_every_other_needs_to_beat_the_closest_other_speaker():
    # own[i][j]: speaker j's own speech against speaker i's reference (diagonal: the ceiling, not compared)
    own = [[0.90, 0.60, 0.70],
           [0.55, 0.92, 0.65],
           [0.50, 0.80, 0.88]]
    clone = [0.71, 0.60, 0.85]
    assert beats_every_other(clone, own) == [True, False, True]
    # a tie is not a win; the own-speech diagonal never counts against the clone
    assert beats_every_other([0.70, 0.99, 0.81], own) == [False, True, True]


def test_beats_every_other_is_false_without_other_speakers():
    assert beats_every_other([0.8], [[0.9]]) == [False]


def test_a_speaker_hears_its_clone_in_its_own_language_where_there_are_sentences_in_it():
    from bench import voice_speakers

    assert voice_speakers.own_language("fr-CA") == "fr"
    assert voice_speakers.own_language("it-IT") == "it"
    assert voice_speakers.own_language("es_CO") == "es"
    assert voice_speakers.own_language("pt-PT") == "pt-br"   # the synthesizer's only Portuguese
    # English, and languages Kokoro does not speak, keep the English sentences
    assert voice_speakers.own_language("en-US") is None
    assert voice_speakers.own_language("cs") is None
    assert voice_speakers.own_language("ru-RU") is None
    assert voice_speakers.held_out_sentences(None, 2) == voice_speakers.HELD_OUT_TEXT[:2]
    french = voice_speakers.held_out_sentences("fr", 3)
    assert len(french) == 3 and all(s not in voice_speakers.HELD_OUT_TEXT for s in french)


def test_every_language_with_sentences_is_one_the_synthesizer_reads_and_has_as_many_as_english():
    pytest.importorskip("voicekit")
    from bench import voice_speakers
    from voicekit.g2p import LANGUAGES

    for code, sentences in voice_speakers.HELD_OUT_BY_LANGUAGE.items():
        assert code in LANGUAGES
        assert len(sentences) == len(voice_speakers.HELD_OUT_TEXT) and len(set(sentences)) == len(sentences)


def test_a_clone_saying_its_speakers_language_is_not_cross_language_and_has_no_wer_column():
    from bench.voice_quality_real import RealResult, table

    def result(name: str, language: str, spoken: str | None, words: int) -> RealResult:
        r = RealResult(name=name, language=language, native_rate=8000, reference_s=20.0, spoken=spoken,
                       words=words, errors={"base": 3, "clone": 2})
        for encoder in ("ge2e", "ecapa", "campplus", "mfcc"):
            setattr(r, encoder, {"own": 0.9, "base": 0.6, "clone": 0.8})
            r.beats[encoder] = True
        r.synth_s, r.audio_s = {"base": 1.0, "clone": 1.0}, {"base": 4.0, "clone": 4.0}
        return r

    french, russian, english = (result("fr", "fr-FR", "fr", 0), result("ru", "ru-RU", None, 20),
                                result("en", "en-US", None, 20))
    assert (french.cross_language, french.own_language) == (False, True)
    assert (russian.cross_language, russian.own_language) == (True, False)
    assert (english.cross_language, english.own_language) == (False, False)
    rows = table([french, russian, english], with_wer=True, with_dnsmos=False).splitlines()
    assert "fr-FR (said fr)" in rows[2] and "| — | — |" in rows[2]
    assert "ru-RU (x-lang)" in rows[3] and "| 15 % | 10 % |" in rows[3]
    assert "| 15 % | 10 % |" in rows[-1]   # pooled over the 40 English words only: 6 and 4 errors
