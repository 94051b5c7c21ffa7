"""kokoro_enrol: recipes, the bank and the search, in a toy world where a voice's "speech" is its recipe and the
"encoder" is a fixed random projection of the timbre coefficients (so the best answer is known)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from voicekit import kokoro_enrol as ke
from voicekit.errors import VoicekitError

BASIS = ("af_a", "af_b", "af_c", "af_d", "am_e", "am_f", "am_g", "am_h")
RNG = np.random.default_rng(7)
PACKS = {name: RNG.normal(size=(ke.ROWS, ke.DIM)).astype(np.float32) for name in BASIS}
PROJECTION = RNG.normal(size=(16, len(BASIS)))
F0 = np.array([5.3, 5.35, 5.25, 5.4, 4.7, 4.75, 4.8, 4.65])      # ln Hz: ≈ 200 Hz women, ≈ 110 Hz men


def toy_embed(audio: np.ndarray, rate: int) -> np.ndarray:
    timbre = audio[: len(BASIS)]
    e = np.tanh(PROJECTION @ timbre)
    return e / np.linalg.norm(e)


def toy_f0(audio: np.ndarray, rate: int) -> float:
    return float(F0 @ audio[len(BASIS):])


def toy_speak_recipe(recipe: ke.Recipe) -> tuple[np.ndarray, int]:
    return np.concatenate([recipe.timbre, recipe.prosody]), 1


def toy_bank(**kw) -> ke.Bank:
    # build_bank hands `speak` a pack; recover its coefficients from the first row (8 unknowns, 128 equations).
    rows = np.stack([PACKS[n][0] for n in BASIS], axis=1).astype(np.float64)      # [256, K]

    def speak(pack: np.ndarray) -> tuple[np.ndarray, int]:
        t, *_ = np.linalg.lstsq(rows[: ke.HALF], pack[0, : ke.HALF].astype(np.float64), rcond=None)
        p, *_ = np.linalg.lstsq(rows[ke.HALF:], pack[0, ke.HALF:].astype(np.float64), rcond=None)
        return np.concatenate([t, p]), 1

    return ke.build_bank(PACKS, speak, toy_embed, toy_f0, basis=BASIS, **kw)


def target_of(coeffs: np.ndarray, speech_s: float = 30.0) -> ke.Target:
    audio, rate = toy_speak_recipe(ke.Recipe.single(BASIS, coeffs))
    return ke.Target(embedding=toy_embed(audio, rate), log_f0=toy_f0(audio, rate), speech_s=speech_s)


def test_style_pack_mixes_the_halves_separately():
    timbre = np.zeros(len(BASIS))
    prosody = np.zeros(len(BASIS))
    timbre[0], prosody[4] = 1.0, 1.0
    pack = ke.style_pack(ke.Recipe(BASIS, timbre, prosody), PACKS)
    assert pack.shape == (510, 256) and pack.dtype == np.float32
    assert np.allclose(pack[:, :128], PACKS["af_a"][:, :128])
    assert np.allclose(pack[:, 128:], PACKS["am_e"][:, 128:])
    half = ke.style_pack(ke.Recipe.single(BASIS, np.array([0.5, 0.5, 0, 0, 0, 0, 0, 0])), PACKS)
    assert np.allclose(half, (PACKS["af_a"] + PACKS["af_b"]) / 2, atol=1e-5)


def test_recipe_round_trip_and_validation():
    recipe = ke.Recipe(BASIS, np.linspace(-0.1, 0.3, 8), np.full(8, 0.125))
    back = ke.Recipe.from_dict(recipe.to_dict())
    assert back.basis == BASIS and np.allclose(back.timbre, recipe.timbre, atol=1e-4)
    with pytest.raises(ValueError):
        ke.Recipe.from_dict({"basis": list(BASIS), "timbre": [0.5, 0.5], "prosody": [1.0] * 8})
    with pytest.raises(ValueError):
        ke.Recipe.from_dict({"basis": list(BASIS), "timbre": [float("nan")] * 8, "prosody": [1.0] * 8})


def test_bank_recipes_stay_within_one_sex_and_sum_to_one():
    recipes = ke.bank_recipes(BASIS, mixtures=20, extrapolations=10, seed=1)
    assert len(recipes) == len(BASIS) + 30
    for label, c in recipes:
        assert math.isclose(c.sum(), 1.0, abs_tol=1e-9), label
        used = {ke.sex_of(BASIS[i]) for i in np.flatnonzero(np.abs(c) > 1e-12)}
        assert len(used) == 1, label
    assert max(ke.outside(c) for _, c in recipes) <= 0.5 + 1e-9


def test_bank_round_trips_through_bytes():
    bank = toy_bank(mixtures=6, extrapolations=4)
    back = ke.Bank.from_bytes(bank.to_bytes())
    assert back.basis == BASIS and back.labels == bank.labels and back.proxy_text == ke.PROXY_TEXT
    assert np.allclose(back.embeddings, bank.embeddings, atol=1e-6)
    assert np.allclose(back.coeffs, bank.coeffs, atol=1e-6)
    # stock voices in the bank measure as themselves
    assert np.allclose(bank.embeddings[0], toy_embed(np.eye(len(BASIS))[0], 1), atol=1e-5)


def test_target_sex_gates_the_candidates():
    bank = toy_bank(mixtures=10, extrapolations=4)
    male = target_of(np.array([0, 0, 0, 0, 0.5, 0.5, 0, 0.0]))
    assert male.sexes() == ("m",)
    assert set(bank.sexes()[ke.candidates(male, bank)]) == {"m"}
    female = target_of(np.array([0.3, 0.7, 0, 0, 0, 0, 0, 0.0]))
    assert set(bank.sexes()[ke.candidates(female, bank)]) == {"f"}


def test_search_improves_on_the_nearest_bank_voice_within_its_evaluations():
    bank = toy_bank(mixtures=10, extrapolations=4)
    hidden = np.array([0.45, 0.0, 0.35, 0.2, 0, 0, 0, 0])          # not in the bank
    target = target_of(hidden)
    nearest = float(bank.embeddings[ke.candidates(target, bank)[0]] @ target.embedding)
    found = ke.find_voice(target, bank, toy_speak_recipe, toy_embed, toy_f0, budget_s=60, max_evaluations=20)
    assert found.evaluations <= 20
    assert found.similarity > nearest
    assert found.similarity > 0.97
    assert all(ke.sex_of(BASIS[i]) == "f" for i in np.flatnonzero(found.recipe.timbre > 0.05))
    assert found.confidence == "high"
    assert math.isclose(found.recipe.timbre.sum(), 1.0, abs_tol=1e-6)


def test_search_respects_the_time_budget_and_marks_short_references():
    bank = toy_bank(mixtures=6, extrapolations=2)
    ticks = iter(range(0, 10_000, 5))                             # every clock reading advances 5 s
    found = ke.find_voice(target_of(np.array([0, 0, 0, 0, 0.2, 0.2, 0.6, 0]), speech_s=3.0), bank,
                          toy_speak_recipe, toy_embed, None, budget_s=20, max_evaluations=50,
                          clock=lambda: float(next(ticks)))
    assert found.budget_exhausted and found.evaluations < 50
    assert found.confidence == "low"
    assert found.report()["confidence"] == "low"


def test_bank_without_a_voice_forgets_every_entry_that_used_it():
    bank = toy_bank(mixtures=12, extrapolations=6)
    smaller = bank.without(["af_a"])
    assert "af_a" not in smaller.basis and len(smaller.basis) == len(BASIS) - 1
    assert 0 < len(smaller) < len(bank)
    assert np.allclose(smaller.coeffs.sum(axis=1), 1.0)
    assert not any("af_a" in label for label in smaller.labels)


def test_linear_optimum_stays_on_the_speakers_sex_and_within_the_allowed_extrapolation():
    bank = toy_bank(mixtures=16, extrapolations=6)
    target = target_of(np.array([0.1, 0.6, 0.3, 0, 0, 0, 0, 0]))
    W = ke.linear_map(bank)
    for max_outside in (0.0, 0.15):
        c, predicted = ke.linear_optimum(target, bank, W, max_outside)
        assert math.isclose(c.sum(), 1.0, abs_tol=1e-6)
        assert c.min() >= -max_outside - 1e-9
        assert np.all(c[4:] == 0)                                   # the male voices are not used
        assert predicted >= float(bank.embeddings[ke.candidates(target, bank)[0]] @ target.embedding) - 0.02


# --- wiring: Enroller over an engine, the version-3 profile, synthesis from the recipe ---------------------------

class FakeEngine:
    """The parts of voicekit.kokoro.KokoroEngine that enrolment and synthesis use; "audio" is the style row that
    was asked for (so the toy encoder below can read the voice back)."""

    def __init__(self):
        self.vocab = {c: i + 1 for i, c in enumerate("abcdefghijklmnopqrstuvwxyz ")}
        self.voices = {name: object() for name in BASIS}
        self.spoken = []

    def voice_pack(self, name):
        return PACKS[name]

    def phoneme_pieces(self, text, language):
        return [text.lower()[:40]]

    def infer(self, tokens, pack, speed=1.0):
        return np.asarray(pack[len(tokens) - 1], dtype=np.float32)

    def speak(self, text, language, pack, speed=1.0, duration_s=None, check_duration=None):
        self.spoken.append((text, language, np.asarray(pack)))
        return np.zeros(2400, np.float32)


ROW_BASIS = np.stack([PACKS[n][39] for n in BASIS], axis=1).astype(np.float64)   # the proxy's row (40 tokens)


def row_embed(audio, rate):
    coeffs, *_ = np.linalg.lstsq(ROW_BASIS[: ke.HALF], np.asarray(audio, np.float64)[: ke.HALF], rcond=None)
    return toy_embed(coeffs, rate)


def test_enroller_returns_a_small_version_3_profile_that_synthesis_turns_back_into_the_pack():
    from voicekit import enrolment, pitch
    from voicekit import profile as voice_profile

    bank = toy_bank(mixtures=10, extrapolations=4)
    enroller = ke.Enroller(FakeEngine(), bank, embed=row_embed)
    enroller.log_f0 = staticmethod(lambda audio, rate: 5.3)
    target = target_of(np.array([0.2, 0.5, 0.3, 0, 0, 0, 0, 0]))
    hz = math.exp(target.log_f0)
    f0 = pitch.F0Stats(log_mean=target.log_f0, log_std=0.1, median_hz=hz, p10_hz=0.9 * hz, p90_hz=1.1 * hz,
                       voiced_frames=600, voiced_ratio=0.6)
    screened = enrolment.Screened(speech=np.zeros(16000), duration_s=12.5, speech_s=12.0, clipped=0.0, f0=f0,
                                  pitch_voice="slt", loudness_dbfs=-20.0, peak_dbfs=-3.0,
                                  embedding=target.embedding)
    made, found = enroller.enroll(screened, "wav", budget=60)
    assert made["version"] == 3 and made["method"] == "kokoro-style" and made["container"] == "wav"
    assert made["engineVoice"] in BASIS[:4] and made["language"] == "en-us"
    assert made["clone"]["confidence"] == found.confidence == "medium"              # 12 s of speech
    text = json.dumps(made)
    assert len(text) < voice_profile.MAX_PROFILE_BYTES
    assert voice_profile.parse(text)["style"] == made["style"]                       # what synthesis reads
    recipe = ke.recipe_of(json.loads(text))
    assert np.allclose(recipe.timbre, found.recipe.timbre, atol=1e-4)
    assert ke.recipe_of({"version": 2, "method": "world-vc"}) is None

    from voicekit.tts import Synthesizer

    engine = FakeEngine()
    synthesizer = Synthesizer(kokoro=engine)
    synthesizer.speak("Hello there.", made["engineVoice"], profile=json.loads(text))
    _, language, pack = engine.spoken[-1]
    assert language == "en-us"
    assert np.allclose(pack, ke.style_pack(recipe, PACKS), atol=1e-5)
    with pytest.raises(VoicekitError) as bad:
        synthesizer.speak("Hello.", "af_a", profile={**made, "style": {"basis": ["nobody"], "timbre": [1],
                                                                       "prosody": [1]}})
    assert bad.value.code == "invalid_profile"


def test_the_committed_bank_matches_the_code():
    """data/kokoro_enrol_bank.npz is bench/build_enrol_bank.py's output: same basis, proxy text and recipes."""
    bank = ke.load_bank()
    assert bank.basis == ke.TIMBRE_BASIS and bank.proxy_text == ke.PROXY_TEXT and bank.version == ke.BANK_VERSION
    recipes = ke.bank_recipes(ke.TIMBRE_BASIS, mixtures=32, extrapolations=12, foreign_mixtures=1, seed=0)
    assert [label for label, _ in recipes] == list(bank.labels)
    assert np.allclose([c for _, c in recipes], bank.coeffs, atol=1e-6)
    # the prosody half only ever uses English voices, each non-English voice's partner being one of its sex
    assert all(ke.is_english(p) and ke.sex_of(p) == ke.sex_of(n)
               for n, p in zip(bank.basis, bank.partners, strict=True))
    assert np.allclose(bank.prosody_of(bank.coeffs)[:, len(ke.BASIS):], 0.0)
    assert np.allclose(np.linalg.norm(bank.embeddings, axis=1), 1.0, atol=1e-4)
    assert np.all(np.isfinite(bank.log_f0))
    sexes = bank.sexes()
    assert np.exp(bank.log_f0[sexes == "f"]).mean() > np.exp(bank.log_f0[sexes == "m"]).mean() + 40  # Hz
    # each stock voice is its own nearest entry among the stock voices (the embeddings are the voices')
    stock = bank.embeddings[: len(ke.BASIS)]
    assert np.all(np.argmax(stock @ stock.T, axis=1) == np.arange(len(ke.BASIS)))


def test_an_ambiguous_pitch_allows_either_sex_but_never_a_mixture_of_both():
    bank = toy_bank(mixtures=12, extrapolations=6)
    voice = target_of(np.array([0.5, 0.0, 0.5, 0, 0, 0, 0, 0]))
    target = ke.Target(embedding=voice.embedding, log_f0=math.log(152.0), speech_s=20.0)
    assert target.sexes() == ("f", "m")
    coeffs, _ = ke.linear_optimum(target, bank, ke.linear_map(bank), 0.2)
    found = ke.find_voice(target, bank, toy_speak_recipe, toy_embed, None, budget_s=60, max_evaluations=12)
    for c in (coeffs, found.recipe.timbre, found.recipe.prosody):
        used = {ke.sex_of(BASIS[i]) for i in np.flatnonzero(np.abs(c) > 1e-9)}
        assert len(used) == 1, c
    assert ke.sex_of(ke.main_voice(found.recipe)) == "f"     # the embedding says which


# --- non-English voices as timbre only (the prosody half stays English) ------------------------------------------

WIDE = BASIS + ("ff_x", "jf_y", "em_z")                             # French/Japanese women, a Spanish man
WIDE_PACKS = {**PACKS, **{name: RNG.normal(size=(ke.ROWS, ke.DIM)).astype(np.float32) for name in WIDE[8:]}}
# each foreign voice's prosody half is an English voice's plus a little noise: that voice is its partner
for _name, _twin in (("ff_x", "af_c"), ("jf_y", "af_a"), ("em_z", "am_g")):
    WIDE_PACKS[_name][:, ke.HALF:] = PACKS[_twin][:, ke.HALF:] + 0.01 * RNG.normal(size=(ke.ROWS, ke.HALF))
WIDE_PROJECTION = RNG.normal(size=(16, len(WIDE)))
WIDE_F0 = np.concatenate([F0, [5.3, 5.35, 4.75]])


def wide_embed(audio: np.ndarray, rate: int) -> np.ndarray:
    e = np.tanh(WIDE_PROJECTION @ audio[: len(WIDE)])
    return e / np.linalg.norm(e)


def wide_f0(audio: np.ndarray, rate: int) -> float:
    return float(WIDE_F0 @ audio[len(WIDE):])


def wide_bank(**kw) -> ke.Bank:
    rows = np.stack([WIDE_PACKS[n][0] for n in WIDE], axis=1).astype(np.float64)      # [256, K]

    def speak(pack: np.ndarray) -> tuple[np.ndarray, int]:
        t, *_ = np.linalg.lstsq(rows[: ke.HALF], pack[0, : ke.HALF].astype(np.float64), rcond=None)
        p, *_ = np.linalg.lstsq(rows[ke.HALF:], pack[0, ke.HALF:].astype(np.float64), rcond=None)
        return np.concatenate([t, p]), 1

    return ke.build_bank(WIDE_PACKS, speak, wide_embed, wide_f0, basis=WIDE, **kw)


def test_non_english_voices_get_the_nearest_english_prosody_of_their_sex():
    assert ke.prosody_partners(WIDE, WIDE_PACKS) == BASIS + ("af_c", "af_a", "am_g")
    assert ke.is_english("bm_lewis") and not ke.is_english("ff_siwis")
    assert set(ke.TIMBRE_BASIS[: len(ke.BASIS)]) == set(ke.BASIS) and not any(map(ke.is_english, ke.EXTRA_TIMBRE))


def test_bank_recipes_keep_the_english_part_and_add_foreign_timbres():
    english = ke.bank_recipes(BASIS, mixtures=10, extrapolations=4, seed=3)
    wide = ke.bank_recipes(WIDE, mixtures=10, extrapolations=4, foreign_mixtures=2, seed=3)
    assert [label for label, _ in wide[: len(english)]] == [label for label, _ in english]
    assert np.allclose([c[:8] for _, c in wide[: len(english)]], [c for _, c in english])
    assert len(wide) == len(english) + 3 * (1 + 2)
    for label, c in wide[len(english):]:
        assert math.isclose(c.sum(), 1.0, abs_tol=1e-9) and c.min() >= 0
        assert np.count_nonzero(c[8:]) == 1, label                       # each uses one foreign voice
        assert len({ke.sex_of(WIDE[i]) for i in np.flatnonzero(c > 0)}) == 1
    # fewer foreign voices: the same entries, less those of the voice left out
    narrower = ke.bank_recipes(WIDE[:9] + WIDE[10:], mixtures=10, extrapolations=4, foreign_mixtures=2, seed=3)
    kept = [(label, np.delete(c, 9)) for label, c in wide if c[9] == 0]
    assert [label for label, _ in narrower] == [label for label, _ in kept]
    assert np.allclose([c for _, c in narrower], [c for _, c in kept])


def test_a_wide_bank_renders_foreign_timbre_with_english_prosody_and_round_trips():
    bank = wide_bank(mixtures=8, extrapolations=2, foreign_mixtures=2)
    assert bank.partners == BASIS + ("af_c", "af_a", "am_g")
    i = bank.labels.index("ff_x")
    rendered_prosody = bank.prosody_of(bank.coeffs[i])
    assert rendered_prosody[WIDE.index("af_c")] == 1.0 and np.all(rendered_prosody[8:] == 0)
    back = ke.Bank.from_bytes(bank.to_bytes())
    assert back.partners == bank.partners and back.version == ke.BANK_VERSION
    # a version-1 bank (no partners stored) reads back with prosody = timbre
    old = ke.Bank(basis=BASIS, coeffs=np.eye(8), embeddings=np.eye(8), log_f0=np.zeros(8), version=1)
    raw = dict(np.load(__import__("io").BytesIO(old.to_bytes())))
    raw.pop("partners")
    buffer = __import__("io").BytesIO()
    np.savez_compressed(buffer, **raw)
    legacy = ke.Bank.from_bytes(buffer.getvalue())
    assert legacy.partners == BASIS and np.allclose(legacy.prosody_map(), np.eye(8))
    with pytest.raises(ValueError):       # a foreign voice may not give prosody
        ke.Bank(basis=WIDE, coeffs=np.eye(11), embeddings=np.eye(11), log_f0=np.zeros(11))
    # leaving an English voice out also drops the foreign voices it spoke for
    smaller = bank.without(["af_c"])
    assert "af_c" not in smaller.basis and "ff_x" not in smaller.basis and "jf_y" in smaller.basis


def test_search_over_foreign_timbre_keeps_the_prosody_english():
    bank = wide_bank(mixtures=12, extrapolations=4, foreign_mixtures=3)
    hidden = np.zeros(len(WIDE))
    hidden[[WIDE.index("ff_x"), WIDE.index("af_b")]] = 0.7, 0.3
    voice = ke.Recipe(WIDE, hidden, bank.prosody_of(hidden))
    target = ke.Target(embedding=wide_embed(np.concatenate([voice.timbre, voice.prosody]), 1),
                       log_f0=math.log(200.0), speech_s=30.0)
    english_only = bank.without(["ff_x", "jf_y", "em_z"])

    def speak(recipe):
        return np.concatenate([recipe.timbre, recipe.prosody]), 1

    def speak_english(recipe):   # the English-only bank's recipes in the wide world's coordinates
        t, p = np.zeros(len(WIDE)), np.zeros(len(WIDE))
        for name, wt, wp in zip(recipe.basis, recipe.timbre, recipe.prosody, strict=True):
            t[WIDE.index(name)], p[WIDE.index(name)] = wt, wp
        return np.concatenate([t, p]), 1

    found = ke.find_voice(target, bank, speak, wide_embed, wide_f0, budget_s=60, max_evaluations=16)
    narrow = ke.find_voice(target, english_only, speak_english, wide_embed, wide_f0, budget_s=60,
                           max_evaluations=16)
    assert found.similarity > narrow.similarity + 0.02
    assert found.recipe.timbre[WIDE.index("ff_x")] > 0.2
    assert np.allclose(found.recipe.prosody[8:], 0.0)                      # no foreign prosody, ever
    assert math.isclose(found.recipe.prosody.sum(), 1.0, abs_tol=1e-6)
    assert ke.is_english(ke.main_voice(found.recipe)) and ke.sex_of(ke.main_voice(found.recipe)) == "f"
    made = ke.profile({}, found, 1.0)
    assert made["language"] == "en-us" and ke.is_english(made["engineVoice"])


def test_main_voice_of_a_foreign_timbre_recipe_is_english_and_old_recipes_are_unchanged():
    mostly_french = ke.Recipe(("af_a", "ff_x", "af_b"), np.array([0.2, 0.7, 0.1]), np.array([0.3, 0.0, 0.7]))
    assert ke.main_voice(mostly_french) == "af_b"
    old = ke.Recipe.from_dict({"basis": ["af_a", "bf_b"], "timbre": [0.3, 0.7], "prosody": [0.6, 0.4]})
    assert ke.main_voice(old) == "bf_b"
