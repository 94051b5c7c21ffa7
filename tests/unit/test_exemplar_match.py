"""exemplar_match: the speaker's envelope codebook (learning, band edge, profile block) and the frame-by-frame
conversion (moves a vowel's envelope toward the speaker's, leaves the band above the reference's untouched,
identity cases, refused inputs)."""
from __future__ import annotations

import base64
import json
import zlib

import numpy as np
import pytest

from voicekit import exemplar_match as em
from voicekit.errors import VoicekitError
from voicekit.intelligibility import PHONES

RATE = 16000
VOWELS = {"a": (730, 1090, 2440), "i": (270, 2290, 3010), "u": (300, 870, 2240), "e": (530, 1840, 2480)}


def resonate(x: np.ndarray, formants, rate: int, bandwidth: float = 90.0) -> np.ndarray:
    """``x`` through one two-pole resonator per formant (a cascade, as in a Klatt synthesiser)."""
    for f in formants:
        r = np.exp(-np.pi * bandwidth / rate)
        a1, a2 = -2 * r * np.cos(2 * np.pi * f / rate), r * r
        y = np.zeros_like(x)
        y1 = y2 = 0.0
        gain = 1 + a1 + a2
        for n, v in enumerate(x):
            y0 = gain * v - a1 * y1 - a2 * y2
            y[n], y2, y1 = y0, y1, y0
        x = y
    return x


def speaker(scale: float, f0: float, rate: int = RATE, order: str = "aiueaiue", seconds: float = 0.4,
            seed: int = 0) -> np.ndarray:
    """A toy speaker: vowels (formants × ``scale``: a shorter or longer vocal tract) on a glottal pulse train at
    ``f0`` Hz, each ``seconds`` long, with a short noise burst (an unvoiced sound) between them."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    pieces = []
    for vowel in order:
        pulses = np.zeros(n)
        pulses[:: int(rate / f0)] = 1.0
        pieces.append(resonate(pulses, [f * scale for f in VOWELS[vowel]], rate))
        pieces.append(resonate(0.05 * rng.normal(size=int(0.08 * rate)), [4000 * min(scale, 1.3)], rate, 800))
    x = np.concatenate(pieces)
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def vowel_db(x: np.ndarray, rate: int, top_hz: float, index: int, seconds: float = 0.4) -> np.ndarray:
    """Mean level-free envelope (dB on the codebook's grid) over the middle of the ``index``-th vowel."""
    env, _, hop, fft_size = em.analyse(x, rate)
    step = int((seconds + 0.08) * rate) // hop
    first = index * step + int(0.1 * rate) // hop
    db = em.on_grid_db(env[first:first + int(0.2 * rate) // hop], rate, fft_size, em.grid_hz(top_hz)).mean(axis=0)
    return db - db.mean()


@pytest.fixture(scope="module")
def voices():
    source = speaker(1.0, 120.0)                       # the "clone"
    target = speaker(1.18, 140.0, seed=1)              # the speaker: formants 18 % higher
    return source, target, em.learn(target, RATE)


def test_the_codebook_is_small_and_survives_the_profile_round_trip(voices):
    _, _, book = voices
    assert book.shapes_db.shape[1] == em.GRID and book.voiced.any() and (~book.voiced).any()
    assert len(book.voiced) <= em.VOICED_CODES + em.UNVOICED_CODES
    block = em.to_profile(book, em.MIX)
    text = json.dumps(block)
    assert len(text) < 9000                            # with the rest of a profile (≈ 3.5 KB) under 16 KB
    back, mix = em.of_profile({em.PROFILE_KEY: json.loads(text)})
    assert mix == em.MIX and back.top_hz == pytest.approx(book.top_hz, abs=0.1)
    assert np.abs(back.shapes_db - book.shapes_db).max() <= em.STEP_DB / 2 + 1e-9   # 8-bit, 0.5 dB steps
    np.testing.assert_array_equal(back.voiced, book.voiced)
    np.testing.assert_allclose(back.cep_mean, book.cep_mean, atol=1e-3)


def test_conversion_moves_each_vowel_toward_the_speakers_and_keeps_length_and_level(voices):
    source, target, book = voices
    converted = em.apply(source, RATE, book, mix=1.0)
    assert converted.shape == source.shape and converted.dtype == np.float32
    assert np.abs(converted).max() <= 0.99
    before, after = [], []
    for index in range(8):
        reference = vowel_db(target, RATE, book.top_hz, index)
        before.append(np.abs(vowel_db(source, RATE, book.top_hz, index) - reference).mean())
        after.append(np.abs(vowel_db(converted, RATE, book.top_hz, index) - reference).mean())
    before, after = np.array(before), np.array(after)
    # matching by normalised cepstra is not perfect (here /i/ takes another vowel's shape), but on the whole the
    # envelopes come much closer to the speaker's, and half the vowels land within a quarter of the gap
    assert after.mean() < 0.75 * before.mean()
    assert (after < 0.25 * before).sum() >= 4
    rms = lambda v: float(np.sqrt(np.mean(np.square(v, dtype=np.float64))))  # noqa: E731
    assert 0.5 < rms(converted) / rms(source) < 2.0    # level is the frame's own, not the speaker's


def test_a_smaller_mix_changes_less(voices):
    source, _, book = voices
    full = em.apply(source, RATE, book, mix=1.0)
    half = em.apply(source, RATE, book, mix=0.3)
    assert np.abs(half - source).mean() < np.abs(full - source).mean()


def test_the_speakers_own_codebook_changes_their_speech_little(voices):
    _, target, book = voices
    same = em.apply(target, RATE, book, mix=1.0)
    for index in range(8):
        gap = np.abs(vowel_db(same, RATE, book.top_hz, index) - vowel_db(target, RATE, book.top_hz, index))
        assert gap.mean() < 2.0


def lowpass(x: np.ndarray, rate: int, cutoff: float) -> np.ndarray:
    spectrum = np.fft.rfft(x)
    spectrum[np.fft.rfftfreq(len(x), 1.0 / rate) > cutoff] = 0.0
    return np.fft.irfft(spectrum, len(x)).astype(np.float32)


def test_a_telephone_reference_changes_nothing_above_its_band():
    narrow = lowpass(speaker(1.18, 140.0, seed=1), RATE, 4000.0)   # an 8 kHz recording, upsampled
    book = em.learn(narrow, RATE)
    assert 3000 < book.top_hz < 4000                    # the band edge found (CheapTrick smears it), less 6 %
    wide = em.learn(speaker(1.18, 140.0, seed=1), RATE)
    assert wide.top_hz > 6000
    source = speaker(1.0, 120.0)
    converted = em.apply(source, RATE, book, mix=1.0)
    freqs = np.fft.rfftfreq(len(source), 1.0 / RATE)
    high = freqs > book.top_hz * 1.01
    ratio = np.abs(np.fft.rfft(converted))[high].sum() / np.abs(np.fft.rfft(source))[high].sum()
    assert 0.9 < ratio < 1.1                           # above the band: as Kokoro said it (peak scaling aside)
    low = (freqs > 200) & (freqs < book.top_hz * 0.8)
    changed = np.abs(np.abs(np.fft.rfft(converted))[low] - np.abs(np.fft.rfft(source))[low]).sum()
    assert changed > 0.1 * np.abs(np.fft.rfft(source))[low].sum()   # inside it: converted


def test_the_codebook_works_at_kokoros_rate(voices):
    _, _, book = voices                                 # learnt at 16 kHz, applied to 24 kHz speech
    source = speaker(1.0, 120.0, rate=24000)
    converted = em.apply(source, 24000, book, mix=1.0)
    assert converted.shape == source.shape and np.all(np.isfinite(converted))
    assert not np.allclose(converted, source, atol=1e-3)


def test_nothing_to_apply_returns_the_same_array(voices):
    source, _, book = voices
    assert em.apply(source, RATE, None) is source
    assert em.apply(source, RATE, book, mix=0.0) is source
    empty = np.zeros(0, np.float32)
    assert em.apply(empty, RATE, book) is empty
    assert em.of_profile(None) is None and em.of_profile({"version": 3}) is None


def test_a_reference_without_loud_voiced_speech_is_refused():
    with pytest.raises(VoicekitError) as short:
        em.learn(speaker(1.0, 120.0, order="a", seconds=0.3), RATE)
    assert short.value.code == "reference_unusable"
    with pytest.raises(VoicekitError):
        em.learn(np.zeros(RATE * 3, np.float32), RATE)


@pytest.mark.parametrize("change", [
    lambda b: b.pop("codebook"),
    lambda b: b.pop("mix"),
    lambda b: b.update(mix=1.5),
    lambda b: b.update(mix="lots"),
    lambda b: b["codebook"].update(shapes="not base64!"),
    lambda b: b["codebook"].update(shapes=b["codebook"]["shapes"][:-8]),     # not rows × grid bytes
    lambda b: b["codebook"].update(topHz=50000),
    lambda b: b["codebook"].update(cepMean=[0.0, 1.0]),
    lambda b: b["codebook"].update(cepStd=[0.0] * em.CEPSTRA),
    lambda b: b["codebook"].update(voiced=[]),
    lambda b: b.update(codebook="a string"),
])
def test_a_malformed_profile_block_is_invalid_profile(voices, change):
    block = json.loads(json.dumps(em.to_profile(voices[2], em.MIX)))
    change(block)
    with pytest.raises(VoicekitError) as bad:
        em.of_profile({em.PROFILE_KEY: block})
    assert bad.value.code == "invalid_profile"


class VowelEngine:
    """What ``tts.Synthesizer.speak`` uses of a KokoroEngine; every text is the same toy speech at 24 kHz."""

    def __init__(self):
        self.voices = {"af_a": object(), "af_b": object()}
        self.audio = speaker(1.0, 120.0, rate=24000, order="ai")

    def voice_pack(self, name):
        return np.full((510, 256), 0.1 if name == "af_a" else 0.2, np.float32)

    def speak(self, text, language, pack, speed=1.0, duration_s=None, check_duration=None, pitch=1.0):
        return self.audio.copy()


def test_synthesis_applies_the_profiles_codebook_and_refuses_a_malformed_one(voices):
    from voicekit import kokoro_enrol as ke
    from voicekit.pcm import level
    from voicekit.tts import Synthesizer

    recipe = ke.Recipe(("af_a", "af_b"), np.array([0.7, 0.3]), np.array([0.5, 0.5]))
    found = ke.Found(recipe=recipe, similarity=0.8, score=0.8, start="test", evaluations=1, search_s=1.0,
                     budget_exhausted=False, confidence="medium")
    block = em.to_profile(voices[2], em.MIX)
    with_book = json.loads(json.dumps(ke.profile({"f0": {"logMean": 5.3, "logStd": 0.1}}, found, 10.0, None, block)))
    without = ke.profile({"f0": {"logMean": 5.3, "logStd": 0.1}}, found, 10.0)
    assert em.PROFILE_KEY in with_book and em.PROFILE_KEY not in without
    engine = VowelEngine()
    synthesizer = Synthesizer(kokoro=engine)
    levelled = lambda audio: level(audio, 24000, synthesizer.output_lufs)  # noqa: E731 — what speak returns
    plain, rate = synthesizer.speak("Hello.", "af_a", profile=without)
    assert rate == 24000 and np.array_equal(plain, levelled(engine.audio))  # no codebook: Kokoro's output, levelled
    converted, _ = synthesizer.speak("Hello.", "af_a", profile=with_book)
    np.testing.assert_allclose(converted, levelled(em.apply(engine.audio, 24000, *em.of_profile(with_book))),
                               atol=1e-6)
    assert not np.allclose(converted, plain, atol=1e-3)
    with pytest.raises(VoicekitError) as bad:
        synthesizer.speak("Hello.", "af_a", profile={**with_book, em.PROFILE_KEY: {"mix": 0.5}})
    assert bad.value.code == "invalid_profile"


def test_enrolment_learns_a_codebook_only_from_a_reference_with_speech(voices):
    from voicekit import kokoro_enrol as ke

    class Screened:
        speech, rate = voices[1], RATE

    block = ke.Enroller.learn_exemplars(Screened)
    book, mix = em.of_profile({em.PROFILE_KEY: block})
    assert book.top_hz > 3000 and mix == round(em.mix_for(book), 3)
    assert em.MIX_SHORT <= mix < em.MIX     # a 3.8 s reference: fewer frames per phone, a smaller mix

    class Silent:
        speech, rate = np.zeros(RATE * 2, np.float32), RATE

    assert ke.Enroller.learn_exemplars(Silent) is None      # the clone is still made, without conversion


class VowelLabeller:
    """A labeller that knows where ``speaker``'s sounds are (a test double for pocketsphinx's phone search): each
    vowel its own phone, the noise bursts ``S``."""

    PHONE = {"a": "AA", "i": "IY", "u": "UW", "e": "EH"}

    def __init__(self, order: str = "aiueaiue", seconds: float = 0.4, phone: dict | None = None):
        self.order, self.seconds = order, seconds
        self.phone = phone or self.PHONE
        self.transcripts: list[str | None] = []

    def label(self, samples, rate, frames, frame_s, transcript=None):
        self.transcripts.append(transcript)
        step = self.seconds + 0.08
        out = np.zeros(frames, np.uint8)
        for i in range(frames):
            t = i * frame_s
            segment, into = int(t // step), t % step
            if segment < len(self.order):
                name = self.phone[self.order[segment]] if into < self.seconds else "S"
                out[i] = PHONES.index(name) + 1
        return out


def test_labelled_frames_take_the_speakers_shapes_of_the_same_sound():
    source, target = speaker(1.0, 120.0), speaker(1.18, 140.0, seed=1)
    labeller = VowelLabeller()
    book = em.learn(target, RATE, labeller)
    ex = book.exemplars
    assert ex is not None and len(ex.phones) == len(ex.voiced) == len(ex.shapes_db) <= em.MAX_EXEMPLARS
    assert set(np.unique(ex.phones)) == {1 + PHONES.index(p) for p in ("AA", "IY", "UW", "EH", "S")}
    by_cepstra = em.apply(source, RATE, em.learn(target, RATE), mix=1.0)
    by_phone = em.apply(source, RATE, book, mix=1.0, labeller=labeller, transcript="ah ee oo eh")
    assert labeller.transcripts[-1] == "ah ee oo eh"   # the words spoken reach the labeller (to align them)
    gaps = {"before": [], "cepstra": [], "phone": []}
    for index in range(8):
        reference = vowel_db(target, RATE, book.top_hz, index)
        for name, audio in (("before", source), ("cepstra", by_cepstra), ("phone", by_phone)):
            gaps[name].append(np.abs(vowel_db(audio, RATE, book.top_hz, index) - reference).mean())
    before, phone = np.array(gaps["before"]), np.array(gaps["phone"])
    assert (phone < 0.25 * before).all(), phone / before    # every vowel comes most of the way to the speaker's


def test_the_phone_labels_not_the_cepstra_choose_the_speakers_frames():
    """The speaker's /a/ and /i/ frames labelled the other way round: a clone's /a/ then takes the speaker's /i/
    shape, although by cepstra its /a/ is the nearest (so the labels really steer the matching)."""
    source, target = speaker(1.0, 120.0), speaker(1.18, 140.0, seed=1)
    swapped = VowelLabeller(phone={**VowelLabeller.PHONE, "a": "IY", "i": "AA"})
    book = em.learn(target, RATE, swapped)
    steered = vowel_db(em.apply(source, RATE, book, mix=1.0, labeller=VowelLabeller()), RATE, book.top_hz, 0)
    right = em.learn(target, RATE, VowelLabeller())
    matched = vowel_db(em.apply(source, RATE, right, mix=1.0, labeller=VowelLabeller()), RATE, book.top_hz, 0)
    speakers_a, speakers_i = vowel_db(target, RATE, book.top_hz, 0), vowel_db(target, RATE, book.top_hz, 1)
    gap = lambda x, y: float(np.abs(x - y).mean())  # noqa: E731
    assert gap(steered, speakers_a) > 3 * gap(matched, speakers_a)    # away from the speaker's /a/ ...
    assert gap(steered, speakers_i) < gap(matched, speakers_i)        # ... toward their /i/ (±MAX_DB per frame)


def test_without_labels_on_the_clone_the_codebook_matches_by_voicing_class():
    source, target = speaker(1.0, 120.0), speaker(1.18, 140.0, seed=1)
    book = em.learn(target, RATE, VowelLabeller())
    converted = em.apply(source, RATE, book, mix=1.0)            # no labeller: still converted, by cepstra
    assert converted.shape == source.shape and not np.allclose(converted, source, atol=1e-3)


def test_the_exemplars_survive_the_profile_round_trip_and_bad_ones_are_refused():
    book = em.learn(speaker(1.18, 140.0, seed=1), RATE, VowelLabeller())
    block = json.loads(json.dumps(em.to_profile(book, em.MIX)))
    back, _ = em.of_profile({em.PROFILE_KEY: block})
    np.testing.assert_array_equal(back.exemplars.phones, book.exemplars.phones)
    np.testing.assert_array_equal(back.exemplars.voiced, book.exemplars.voiced)
    assert np.abs(back.exemplars.shapes_db - book.exemplars.shapes_db).max() <= em.STEP_DB / 2 + 1e-9
    ex = block["codebook"]["exemplars"]
    n = len(book.exemplars.phones)
    bomb = base64.b64encode(zlib.compress(bytes(100 * n * em.GRID))).decode()    # inflates far past n rows
    for field, bad in (("phones", "not base64!"), ("phones", ex["phones"][:-4]),
                       ("phones", base64.b64encode(bytes([200] * n)).decode()),   # no such phone
                       ("shapes", base64.b64encode(b"not zlib").decode()), ("shapes", bomb),
                       ("voiced", base64.b64encode(b"").decode())):
        broken = json.loads(json.dumps(block))
        broken["codebook"]["exemplars"][field] = bad
        with pytest.raises(VoicekitError) as refused:
            em.of_profile({em.PROFILE_KEY: broken})
        assert refused.value.code == "invalid_profile"


def test_the_mix_grows_with_the_references_labelled_frames_from_short_to_full():
    book = em.learn(speaker(1.18, 140.0, seed=1), RATE, VowelLabeller())

    def with_frames(n: int) -> em.Codebook:
        ex = book.exemplars
        rows = np.arange(n) % len(ex.phones)
        return em.Codebook(top_hz=book.top_hz, shapes_db=book.shapes_db, voiced=book.voiced, cep_mean=book.cep_mean,
                           cep_std=book.cep_std, exemplars=em.Exemplars(ex.shapes_db[rows], ex.phones[rows],
                                                                        ex.voiced[rows]))

    mixes = [em.mix_for(with_frames(n)) for n in (1, em.SHORT_EXEMPLARS, (em.SHORT_EXEMPLARS + em.FULL_EXEMPLARS) // 2,
                                                  em.FULL_EXEMPLARS, em.MAX_EXEMPLARS)]
    assert mixes[0] == mixes[1] == em.MIX_SHORT < mixes[2] < mixes[3] == mixes[4] == em.MIX
    assert mixes[2] == pytest.approx((em.MIX_SHORT + em.MIX) / 2)
    assert em.mix_for(em.learn(speaker(1.18, 140.0, seed=1), RATE)) == em.MIX   # no labels: no phone coverage to judge
