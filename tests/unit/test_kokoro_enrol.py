"""kokoro_enrol: recipes, the bank and the search, in a toy world where a voice's "speech" is its recipe and the
"encoder" is a fixed random projection of the timbre coefficients (so the best answer is known)."""
from __future__ import annotations

import json
import math
import time

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


def toy_wer_by_extrapolation(audio: np.ndarray, rate: int) -> float:
    """A toy recogniser: a voice far outside the hull is hard to follow (WER 0.6), any other is fine (0.25)."""
    return 0.6 if ke.outside(np.asarray(audio)[: len(BASIS)]) > 0.3 else 0.25


def extrapolated_target() -> ke.Target:
    return target_of(np.array([1.9, -0.45, -0.45, 0, 0, 0, 0, 0]))      # beyond af_a, away from af_b and af_c


def test_an_unintelligible_best_candidate_gives_way_to_the_best_intelligible_one():
    bank = toy_bank(mixtures=10, extrapolations=4)
    target = extrapolated_target()
    plain = ke.find_voice(target, bank, toy_speak_recipe, toy_embed, toy_f0, budget_s=60, max_evaluations=16)
    assert ke.outside(plain.recipe.timbre) > 0.3 and plain.proxy_wer is None     # GE2E alone goes out of the hull
    heard = []

    def recogniser(audio, rate):
        heard.append(np.asarray(audio).copy())
        return toy_wer_by_extrapolation(audio, rate)

    found = ke.find_voice(target, bank, toy_speak_recipe, toy_embed, toy_f0, intelligibility=recogniser,
                          budget_s=60, max_evaluations=16)
    assert np.allclose(heard[0][: len(BASIS)], plain.recipe.timbre)   # the same search; its best is checked first
    assert found.checks[0] == (plain.start, 0.6)
    assert len(found.checks) == len(heard) >= 2 and found.checks[-1][1] == 0.25 == found.proxy_wer
    assert ke.outside(found.recipe.timbre) <= 0.3 and found.similarity < plain.similarity
    assert np.allclose(found.proxy[0], heard[-1])                     # the kept candidate's own proxy speech
    report = found.report()
    assert report["proxyWer"] == 0.25 and report["start"] == found.checks[-1][0]
    assert [c["proxyWer"] for c in report["intelligibilityChecks"]] == [wer for _, wer in found.checks]


def test_an_intelligible_best_candidate_is_kept_after_one_check():
    bank = toy_bank(mixtures=10, extrapolations=4)
    target = target_of(np.array([0.45, 0.0, 0.35, 0.2, 0, 0, 0, 0]))
    plain = ke.find_voice(target, bank, toy_speak_recipe, toy_embed, toy_f0, budget_s=60, max_evaluations=16)
    found = ke.find_voice(target, bank, toy_speak_recipe, toy_embed, toy_f0, intelligibility=toy_wer_by_extrapolation,
                          budget_s=60, max_evaluations=16)
    assert found.checks == [(plain.start, 0.25)]
    assert np.allclose(found.recipe.timbre, plain.recipe.timbre) and found.similarity == plain.similarity


def test_when_no_candidate_is_intelligible_the_clearest_one_is_kept_and_bank_entries_are_synthesised():
    bank = toy_bank(mixtures=10, extrapolations=4)
    target = extrapolated_target()
    rates = iter([0.9, 0.7, 0.8])
    found = ke.find_voice(target, bank, toy_speak_recipe, toy_embed, toy_f0, intelligibility=lambda a, r: next(rates),
                          budget_s=60, max_evaluations=6)
    assert [wer for _, wer in found.checks] == [0.9, 0.7, 0.8]       # all three checked, none good enough
    assert found.proxy_wer == 0.7 and found.start == found.checks[1][0]
    assert found.checks[2][0].startswith("bank:") and found.evaluations == 7   # the bank entry was synthesised


def test_a_failing_recogniser_keeps_the_search_s_best_and_says_why():
    bank = toy_bank(mixtures=10, extrapolations=4)
    target = extrapolated_target()
    plain = ke.find_voice(target, bank, toy_speak_recipe, toy_embed, toy_f0, budget_s=60, max_evaluations=8)

    def broken(audio, rate):
        raise RuntimeError("decoder crashed")

    found = ke.find_voice(target, bank, toy_speak_recipe, toy_embed, toy_f0, intelligibility=broken,
                          budget_s=60, max_evaluations=8)
    assert np.allclose(found.recipe.timbre, plain.recipe.timbre) and found.proxy_wer is None
    assert found.report()["intelligibilityError"] == "RuntimeError: decoder crashed"


def test_the_search_leaves_time_for_the_intelligibility_check():
    bank = toy_bank(mixtures=6, extrapolations=2)
    target = target_of(np.array([0, 0, 0, 0, 0.2, 0.2, 0.6, 0]))

    def evaluations(**kwargs) -> int:
        ticks = iter(range(0, 10_000))                               # every clock reading advances 1 s
        return ke.find_voice(target, bank, toy_speak_recipe, toy_embed, None, budget_s=30, max_evaluations=50,
                             clock=lambda: float(next(ticks)), **kwargs).evaluations

    assert evaluations(intelligibility=lambda a, r: 0.0) < evaluations()


# --- wiring: Enroller over an engine, the version-3 profile, synthesis from the recipe ---------------------------

class FakeEngine:
    """The parts of voicekit.kokoro.KokoroEngine that enrolment and synthesis use; "audio" is the style row that
    was asked for (so the toy encoder below can read the voice back)."""

    def __init__(self, pitch_input=False):
        self.vocab = {c: i + 1 for i, c in enumerate("abcdefghijklmnopqrstuvwxyz ")}
        self.voices = {name: object() for name in BASIS}
        self.spoken = []
        self.pitch_input, self.pitches = pitch_input, []   # the pitch asked for, by call (infer and speak)

    def voice_pack(self, name):
        return PACKS[name]

    def phoneme_pieces(self, text, language):
        return [text.lower()[:40]]

    def infer(self, tokens, pack, speed=1.0, pitch=1.0):
        self.pitches.append(pitch)
        return np.asarray(pack[len(tokens) - 1], dtype=np.float32)

    def speak(self, text, language, pack, speed=1.0, duration_s=None, check_duration=None, pitch=1.0):
        self.spoken.append((text, language, np.asarray(pack)))
        self.pitches.append(pitch)
        return np.zeros(2400, np.float32)


ROW_BASIS = np.stack([PACKS[n][39] for n in BASIS], axis=1).astype(np.float64)   # the proxy's row (40 tokens)


def row_embed(audio, rate):
    coeffs, *_ = np.linalg.lstsq(ROW_BASIS[: ke.HALF], np.asarray(audio, np.float64)[: ke.HALF], rcond=None)
    return toy_embed(coeffs, rate)


def toy_enroller_and_reference(style_fit=False, engine=None, pitch_match_share=None, voicing_check=False):
    """An Enroller over the fake engine (or ``engine``) and toy bank (``style_fit``: a fake fitter, default none;
    ``voicing_check``: the check after the fit, off unless asked: toy "speech" has no pitch), and a screened 12 s
    reference of a toy mixture."""
    from voicekit import enrolment, pitch

    enroller = ke.Enroller(engine or FakeEngine(), toy_bank(mixtures=10, extrapolations=4), embed=row_embed,
                           intelligibility=lambda audio, rate: 0.25, style_fit=style_fit,
                           pitch_match_share=pitch_match_share, voicing_check=voicing_check)
    enroller.log_f0 = staticmethod(lambda audio, rate: 5.3)
    target = target_of(np.array([0.2, 0.5, 0.3, 0, 0, 0, 0, 0]))
    hz = math.exp(target.log_f0)
    f0 = pitch.F0Stats(log_mean=target.log_f0, log_std=0.1, median_hz=hz, p10_hz=0.9 * hz, p90_hz=1.1 * hz,
                       voiced_frames=600, voiced_ratio=0.6)
    screened = enrolment.Screened(speech=np.zeros(16000), duration_s=12.5, speech_s=12.0, clipped=0.0, f0=f0,
                                  pitch_voice="slt", loudness_dbfs=-20.0, peak_dbfs=-3.0,
                                  embedding=target.embedding)
    return enroller, screened


def search_budget_seen(monkeypatch) -> dict:
    seen = {}
    real_find_voice = ke.find_voice

    def spy(*args, budget_s, **kwargs):
        seen["budget_s"] = budget_s
        return real_find_voice(*args, budget_s=budget_s, **kwargs)

    monkeypatch.setattr(ke, "find_voice", spy)
    return seen


def test_the_budget_covers_the_whole_enrolment_from_when_the_request_started(monkeypatch):
    enroller, screened = toy_enroller_and_reference()
    # decoding and screening already took the whole budget: no synthesis, the bank's nearest voice (free)
    _, late = enroller.enroll(screened, "wav", budget=30, started=time.monotonic() - 31)
    assert late.evaluations == 0 and late.start.startswith("bank:") and late.budget_exhausted
    assert late.checks == [] and late.proxy_wer is None          # no time for a check either
    # time left after the spectral fit's reserve: the search runs
    _, on_time = enroller.enroll(screened, "wav", budget=30, started=time.monotonic())
    assert on_time.evaluations > 0
    # what is left for the search is less than the budget by the time already spent and the reserve
    seen = search_budget_seen(monkeypatch)
    enroller.enroll(screened, "wav", budget=30, started=time.monotonic() - 10)
    reserve = ke.FIT_RESERVE_S + ke.EXEMPLAR_RESERVE_S   # the spectral fit's and the exemplar codebook's
    assert 30 - 10 - reserve - 1 < seen["budget_s"] <= 30 - 10 - reserve


def test_enroller_returns_a_small_version_3_profile_that_synthesis_turns_back_into_the_pack():
    from voicekit import profile as voice_profile

    enroller, screened = toy_enroller_and_reference()
    made, found = enroller.enroll(screened, "wav", budget=60)
    assert made["version"] == 3 and made["method"] == "kokoro-style" and made["container"] == "wav"
    assert made["engineVoice"] in BASIS[:4] and made["language"] == "en-us"
    assert made["clone"]["confidence"] == found.confidence == "medium"              # 12 s of speech
    assert made["clone"]["proxyWer"] == 0.25 == found.proxy_wer                      # checked, intelligible
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
    assert bank.basis == ke.BASIS and bank.proxy_text == ke.PROXY_TEXT and bank.version == ke.BANK_VERSION
    recipes = ke.bank_recipes(ke.BASIS, mixtures=32, extrapolations=12, seed=0)
    assert [label for label, _ in recipes] == list(bank.labels)
    assert np.allclose([c for _, c in recipes], bank.coeffs, atol=1e-6)
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


def test_the_intelligibility_check_can_be_turned_off(monkeypatch):
    bank = toy_bank(mixtures=10, extrapolations=4)
    monkeypatch.setenv(ke.INTELLIGIBILITY_ENV, "0")
    assert ke.Enroller(FakeEngine(), bank, embed=row_embed, style_fit=False).intelligibility is None
    monkeypatch.delenv(ke.INTELLIGIBILITY_ENV)
    assert ke.Enroller(FakeEngine(), bank, embed=row_embed, check_intelligibility=False,
                       style_fit=False).intelligibility is None
    toy = ke.Enroller(FakeEngine(), bank, embed=row_embed, intelligibility=toy_wer_by_extrapolation, style_fit=False)
    assert toy.intelligibility is toy_wer_by_extrapolation


# ----------------------------------------------------------------------------------------------- the style fit


class FakeFitter:
    """``style_fit.Fitter`` as enrolment sees it: ready or not, an offset of 0.1 per timbre dim, or a failure."""

    def __init__(self, ready=True, error=None, fails=False, settings=None):
        from voicekit import style_fit

        self.ready, self.error, self.fails = ready, error, fails
        self.settings = settings or style_fit.CPU_SETTINGS
        self.status = "ready" if ready else "unavailable" if error else "compiling"
        self.calls = []

    def fit(self, speech, rate, pack, band_hz, deadline, speaker=None, pitch=1.0):
        self.calls.append((np.asarray(pack), band_hz, deadline, speaker))
        self.pitch = pitch
        if self.fails:
            raise RuntimeError("XLA ran out of memory")
        return np.full(ke.STYLE_HALF, 0.1, np.float32), {"fitStart": 2.5, "fitEnd": 2.3, "steps": 6, "scale": 0.5}


@pytest.mark.parametrize("where", ["cpu", "gpu"])
def test_the_style_fit_runs_last_in_its_reserve_and_its_offset_reaches_the_profile_and_synthesis(monkeypatch, where):
    from voicekit import style_fit
    from voicekit.tts import Synthesizer

    fitter = FakeFitter(settings=style_fit.settings_for(where))
    enroller, screened = toy_enroller_and_reference(style_fit=fitter)
    seen = search_budget_seen(monkeypatch)
    started = time.monotonic()
    made, found = enroller.enroll(screened, "wav", budget=60, started=started)
    reserve = ke.FIT_RESERVE_S + ke.EXEMPLAR_RESERVE_S + fitter.settings.reserve_s   # the fit's settings' reserve
    assert 60 - reserve - 1 < seen["budget_s"] <= 60 - reserve            # the search gave up the fit's reserve
    (pack, _, deadline, speaker), = fitter.calls
    assert deadline == pytest.approx(started + 60)                         # the fit may use what is left, no more
    assert np.allclose(speaker, screened.embedding)                        # the speaker term aims at the reference
    assert np.array_equal(pack, enroller.pack(found.recipe))               # it starts from the kept recipe
    assert made["clone"]["styleFit"]["steps"] == 6
    assert made["styleOffset"] == [0.1] * ke.STYLE_HALF
    engine = FakeEngine()
    Synthesizer(kokoro=engine).speak("Hello there.", made["engineVoice"], profile=json.loads(json.dumps(made)))
    spoken = engine.spoken[-1][2]
    plain = ke.style_pack(ke.recipe_of(made), PACKS)
    assert np.allclose(spoken[:, : ke.STYLE_HALF], plain[:, : ke.STYLE_HALF] + 0.1, atol=1e-5)   # every row's timbre
    assert np.allclose(spoken[:, ke.STYLE_HALF:], plain[:, ke.STYLE_HALF:], atol=1e-6)          # prosody untouched


@pytest.mark.parametrize("fitter, budget, skipped", [
    (FakeFitter(ready=False), 60, "compiling"),
    (FakeFitter(ready=False, error="ImportError: no jax"), 60, "unavailable"),
    (FakeFitter(), 40, "budget too small"),     # the search would keep less than SEARCH_FIRST_S: it keeps it all
    (FakeFitter(fails=True), 60, "failed: RuntimeError"),
])
def test_without_the_style_fit_the_clone_is_whole_and_says_why(monkeypatch, fitter, budget, skipped):
    enroller, screened = toy_enroller_and_reference(style_fit=fitter)
    seen = search_budget_seen(monkeypatch)
    made, _ = enroller.enroll(screened, "wav", budget=budget)
    assert made["clone"]["styleFit"] == {"skipped": skipped}
    assert "styleOffset" not in made and ke.recipe_of(made) is not None
    if not fitter.ready or skipped == "budget too small":   # a fit that will not run takes no reserve
        assert seen["budget_s"] > budget - ke.FIT_RESERVE_S - ke.EXEMPLAR_RESERVE_S - 1
    assert bool(fitter.calls) == fitter.fails


def test_the_style_fit_does_not_start_when_the_search_overran_its_budget(monkeypatch):
    fitter = FakeFitter()
    enroller, screened = toy_enroller_and_reference(style_fit=fitter)
    real_find_voice = ke.find_voice

    def slow_search(*args, **kwargs):   # the search (or a loaded machine) ate the fit's reserve
        found = real_find_voice(*args, **kwargs)
        monkeypatch.setattr(ke.time, "monotonic", lambda: deadline_seen["started"] + 60 - fitter.settings.min_s + 1)
        return found

    deadline_seen = {"started": time.monotonic()}
    monkeypatch.setattr(ke, "find_voice", slow_search)
    made, _ = enroller.enroll(screened, "wav", budget=60, started=deadline_seen["started"])
    assert made["clone"]["styleFit"] == {"skipped": "budget spent"} and not fitter.calls


def test_the_style_fit_can_be_turned_off(monkeypatch):
    bank = toy_bank(mixtures=10, extrapolations=4)
    monkeypatch.setenv(ke.STYLE_FIT_ENV, "0")
    enroller = ke.Enroller(FakeEngine(), bank, embed=row_embed, intelligibility=lambda audio, rate: 0.25)
    assert enroller.style_fit is None
    made, _ = enroller.enroll(toy_enroller_and_reference()[1], "wav", budget=60)
    assert "styleFit" not in made["clone"] and "styleOffset" not in made


@pytest.mark.parametrize("field, value", [
    *(("styleOffset", offset) for offset in ([0.1] * 127, [0.1] * 129, [float("nan")] + [0.0] * 127, [11.0] * 128,
                                             "x", [[0.1] * 128])),
    *(("pitch", pitch) for pitch in (0.5, 1.3, float("nan"), "1.1", True, None, [1.0])),
])
def test_a_malformed_style_offset_or_pitch_is_an_invalid_profile(field, value):
    from voicekit.tts import Synthesizer

    read = {"styleOffset": ke.style_offset_of, "pitch": ke.pitch_of}[field]
    enroller, screened = toy_enroller_and_reference()
    made, _ = enroller.enroll(screened, "wav", budget=60)
    with pytest.raises(ValueError):
        read({**made, field: value})
    with pytest.raises(VoicekitError) as bad:
        Synthesizer(kokoro=FakeEngine()).speak("Hello.", made["engineVoice"], profile={**made, field: value})
    assert bad.value.code == "invalid_profile"


def test_with_offset_moves_only_the_timbre_half_and_leaves_the_pack_alone():
    pack = PACKS["af_a"]
    before = pack.copy()
    offset = np.linspace(-1, 1, ke.STYLE_HALF).astype(np.float32)
    moved = ke.with_offset(pack, offset)
    assert np.array_equal(pack, before)                                     # a new array
    assert np.allclose(moved[:, : ke.STYLE_HALF] - pack[:, : ke.STYLE_HALF], offset[None, :])
    assert np.array_equal(moved[:, ke.STYLE_HALF:], pack[:, ke.STYLE_HALF:])
    assert ke.with_offset(pack, None) is pack
    assert ke.style_offset_of({"style": {}}) is None


@pytest.mark.parametrize("exemplar_match", [True, False])
def test_the_eq_is_kept_at_half_strength_under_the_exemplar_step(monkeypatch, exemplar_match):
    from voicekit import spectral_match as sm

    enroller, screened = toy_enroller_and_reference()
    enroller.spectral_match, enroller.exemplar_match = True, exemplar_match
    gains = np.array([3.0, -2.0, 1.0, 0.0])
    fit = sm.Fitted(sm.Curve(sm.band_centres(4), gains), "voiced", 1.0, 0.70, 0.74)
    monkeypatch.setattr(enroller, "fit_spectrum", lambda screened, found, target, proxy=None: fit)
    monkeypatch.setattr(enroller, "learn_exemplars", lambda screened: {"toy": "codebook"})
    made, _ = enroller.enroll(screened, "wav", budget=60)
    factor = ke.EQ_UNDER_EXEMPLARS if exemplar_match else 1.0
    assert np.allclose(made["spectralMatch"]["db"], factor * gains)
    assert made["clone"]["spectralMatch"].get("scale", 1.0) == factor
    assert ("exemplarMatch" in made) == exemplar_match


@pytest.mark.parametrize("reference_hz, voice_hz, share, factor", [
    (220.0, 176.0, 1.0, 1.25),            # the whole gap: 1.25 exactly
    (220.0, 176.0, 0.5, 1.118),           # half of it in log-F0: √1.25
    (258.0, 187.0, 1.0, 1.25),            # past the range: its edge
    (98.0, 128.0, 1.0, 0.8),              # a lower voice: down, to the range's other edge
    (150.0, 143.0, 1.0, 1.049),
    (220.0, 176.0, 0.0, 1.0),             # share 0: none
    (float("nan"), 176.0, 1.0, 1.0),      # no voiced frames in the reference: none
])
def test_the_pitch_match_closes_a_share_of_the_log_f0_gap_within_its_range(reference_hz, voice_hz, share, factor):
    report = ke.pitch_match(math.log(reference_hz), math.log(voice_hz), share)
    assert report["factor"] == pytest.approx(factor, abs=6e-4) and report["share"] == share
    assert ke.PITCH_RANGE[0] <= report["factor"] <= ke.PITCH_RANGE[1]
    if math.isfinite(reference_hz):
        assert report["referenceHz"] == pytest.approx(reference_hz) and report["voiceHz"] == pytest.approx(voice_hz)
    else:
        assert "referenceHz" not in report


def test_a_pitch_matched_clone_is_fitted_equalised_and_spoken_at_its_pitch():
    from voicekit.tts import Synthesizer

    fitter = FakeFitter()
    engine = FakeEngine(pitch_input=True)
    enroller, screened = toy_enroller_and_reference(style_fit=fitter, engine=engine, pitch_match_share=1.0)
    expected = ke.pitch_match(float(screened.f0.log_mean), 5.3, 1.0)["factor"]   # the toy log_f0 hears 5.3
    assert expected != 1.0
    engine.pitches.clear()
    made, _ = enroller.enroll(screened, "wav", budget=60)
    assert made["pitch"] == expected and made["clone"]["pitchMatch"]["factor"] == expected
    assert fitter.pitch == expected                                       # the fit runs at the clone's pitch
    assert expected in engine.pitches                                     # the EQ hears the proxy at it too
    engine.spoken.clear(), engine.pitches.clear()
    Synthesizer(kokoro=engine).speak("Hello there.", made["engineVoice"], profile=json.loads(json.dumps(made)))
    assert engine.pitches == [expected]
    assert ke.pitch_of(made) == expected and ke.pitch_of({k: v for k, v in made.items() if k != "pitch"}) == 1.0


@pytest.mark.parametrize("pitch_input, share", [(False, 1.0), (True, 0.0)])
def test_no_pitch_is_stored_without_the_graphs_pitch_input_or_with_share_0(pitch_input, share):
    engine = FakeEngine(pitch_input=pitch_input)
    enroller, screened = toy_enroller_and_reference(style_fit=FakeFitter(), engine=engine, pitch_match_share=share)
    made, _ = enroller.enroll(screened, "wav", budget=60)
    assert "pitch" not in made and set(engine.pitches) == {1.0}
    assert made["clone"]["pitchMatch"]["factor"] == 1.0 and made["clone"]["pitchMatch"]["share"] == 0.0


def test_the_pitch_share_comes_from_the_environment_within_0_and_1(monkeypatch):
    for raw, share in (("0.5", 0.5), ("2", 1.0), ("-1", 0.0), ("nan", ke.PITCH_MATCH), ("x", ke.PITCH_MATCH)):
        monkeypatch.setenv(ke.PITCH_MATCH_ENV, raw)
        assert ke.pitch_share() == share
    monkeypatch.delenv(ke.PITCH_MATCH_ENV)
    assert ke.pitch_share() == ke.PITCH_MATCH


# ----------------------------------------------------------------------------------------------- the voicing check


@pytest.mark.parametrize("before, after, share", [
    (0.29, 0.18, 0.35),   # the LibriVox reader's clone: 0.15 x 0.29 of 0.11 lost may go, floored to 0.05
    (0.30, 0.00, 0.15),   # every voiced frame gone: a little of the offset is still allowed
    (0.45, 0.40, 1.0),    # within 15 % of the unfitted voice: kept whole
    (0.44, 0.48, 1.0),    # more voiced frames than before
    (0.0, 0.0, 1.0),      # nothing voiced to compare with
    (float("nan"), 0.2, 1.0),
])
def test_the_voicing_share_keeps_the_offset_unless_the_proxy_lost_voiced_frames(before, after, share):
    assert ke.voicing_share(before, after) == pytest.approx(share)


def tagged_speech(enroller):
    """The enroller's proxy speaker, with speech said with a style offset tagged (+1000) so that a toy voiced-share
    measure can tell the fitted clone's from the unfitted voice's; returns the offsets it was asked for."""
    real_speak, offsets = enroller.speak, []

    def speak(recipe, pitch=1.0, offset=None):
        audio, rate = real_speak(recipe, pitch, offset)
        offsets.append(offset)
        return (audio, rate) if offset is None else (audio + 1000.0, rate)

    enroller.speak = speak
    return offsets


@pytest.mark.parametrize("fitted_share, kept", [(0.18, 0.35), (0.30, 1.0)])
def test_a_fitted_offset_that_costs_voiced_frames_is_shrunk_before_it_is_stored(fitted_share, kept):
    fitter = FakeFitter()
    enroller, screened = toy_enroller_and_reference(style_fit=fitter, voicing_check=True)
    offsets = tagged_speech(enroller)
    enroller.voiced_share = lambda audio, rate: fitted_share if audio.max() > 500 else 0.29
    started = time.monotonic()
    made, found = enroller.enroll(screened, "wav", budget=60, started=started)
    (_, _, deadline, _), = fitter.calls
    # the check's synthesis was taken out of the fit's time, at the search's cost of a candidate
    assert deadline == pytest.approx(started + 60 - enroller.voicing_check_s(found))
    assert 0.5 <= enroller.voicing_check_s(found) <= 3.0
    assert np.allclose(offsets[-1], 0.1)                       # the check said the whole fitted offset
    assert made["clone"]["styleFit"]["voicing"] == {"unfitted": 0.29, "fitted": fitted_share, "kept": kept}
    assert made["styleOffset"] == pytest.approx([0.1 * kept] * ke.STYLE_HALF, abs=1e-4)


def test_a_failing_voicing_check_keeps_the_fitted_offset_and_says_so():
    enroller, screened = toy_enroller_and_reference(style_fit=FakeFitter(), voicing_check=True)

    def broken(audio, rate):
        raise FloatingPointError("no frames")

    enroller.voiced_share = broken
    made, _ = enroller.enroll(screened, "wav", budget=60)
    assert made["clone"]["styleFit"]["voicing"] == {"error": "FloatingPointError"}
    assert made["styleOffset"] == [0.1] * ke.STYLE_HALF


def test_the_voicing_check_can_be_turned_off_and_takes_no_time_then(monkeypatch):
    monkeypatch.setenv(ke.VOICING_CHECK_ENV, "0")
    fitter = FakeFitter()
    enroller, screened = toy_enroller_and_reference(style_fit=fitter, voicing_check=None)
    assert enroller.voicing_check is False
    started = time.monotonic()
    made, _ = enroller.enroll(screened, "wav", budget=60, started=started)
    assert fitter.calls[0][2] == pytest.approx(started + 60)
    assert "voicing" not in made["clone"]["styleFit"] and made["styleOffset"] == [0.1] * ke.STYLE_HALF
    monkeypatch.delenv(ke.VOICING_CHECK_ENV)
    assert toy_enroller_and_reference(voicing_check=None)[0].voicing_check is True


def test_the_voiced_share_of_a_tone_and_of_noise():
    rate = 24000
    t = np.arange(rate) / rate
    tone = (0.3 * np.sin(2 * np.pi * 150 * t)).astype(np.float32)
    noise = (0.3 * np.random.default_rng(1).standard_normal(rate)).astype(np.float32)
    assert ke.Enroller.voiced_share(tone, rate) > 0.9
    assert ke.Enroller.voiced_share(noise, rate) < 0.1
