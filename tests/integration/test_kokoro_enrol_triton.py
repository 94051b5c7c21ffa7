"""The `enroll` model's Kokoro path (`VOICEKIT_ENROL_METHOD=kokoro`) through a private Triton, then `synthesize`
with the version-3 profile it returns: the clone's recipe is rebuilt into a style pack inside Triton, and the clone
sounds more like the reference (GE2E, on a held-out sentence) than its nearest stock voice does unconverted; the
style fit (compiled at model load here) ran and its offset changes what synthesis says. ~2-3 min (budget 50 s)."""
from __future__ import annotations

import asyncio
import json

import pytest

from bench import voice_speakers
from bench.private_triton import PrivateTriton, copy_model_repository
from inference_client import InferenceClient
from voicekit import exemplar_match, kokoro, kokoro_enrol, speaker_encoder
from voicekit import profile as voice_profile
from voicekit.pcm import join_segments, write_wav

pytestmark = pytest.mark.integration

RATE = 16000
HELD_OUT = "The box was thrown beside the parked truck."


class KokoroEnrolTriton(PrivateTriton):
    def command(self):
        argv, env = super().command()
        # the style fit compiled before the model is ready, so that this first enrolment runs it
        return argv, {**env, "VOICEKIT_ENROL_METHOD": "kokoro", "VOICEKIT_KOKORO_ENROL_BUDGET_S": "60",
                      "VOICEKIT_KOKORO_STYLE_FIT": "wait"}


def test_kokoro_enrolment_profile_drives_synthesis(infra, tmp_path):  # infra: the Triton venv and Kokoro assets
    speaker = next(s for s in voice_speakers.speakers() if s.name == "flite-rms")
    reference = join_segments([speaker.render(t) for t in voice_speakers.ENROL_TEXT], RATE, gap_s=0.3)
    repo = copy_model_repository(tmp_path / "models", ["enroll", "synthesize"])

    async def scenario(server):
        client = InferenceClient(server.grpc_url, timeout_s=300)
        enrolled = await client.enroll(write_wav(reference, RATE))
        clone = await client.synthesize_with_profile(HELD_OUT, enrolled.engine_voice, enrolled.profile_json)
        stock = await client.synthesize(HELD_OUT, enrolled.engine_voice)
        without_fit = {key: value for key, value in enrolled.profile.items() if key != "styleOffset"}
        unfitted = await client.synthesize_with_profile(HELD_OUT, enrolled.engine_voice, json.dumps(without_fit))
        return enrolled, clone, stock, unfitted

    # the load waits for the style fit's compile (≈ 20-25 s idle, minutes on a busy 2-core machine)
    with KokoroEnrolTriton(repo, log_path=tmp_path / "triton.log", start_timeout_s=300) as server:
        enrolled, clone, stock, unfitted = asyncio.run(scenario(server))
    profile = enrolled.profile
    assert profile["version"] == 3 and profile["method"] == "kokoro-style"
    recipe = kokoro_enrol.recipe_of(profile)
    assert enrolled.engine_voice == profile["engineVoice"] == kokoro_enrol.main_voice(recipe)
    assert kokoro.stock_voice(enrolled.engine_voice).gender == "male"            # rms: ≈ 104 Hz
    assert profile["clone"]["confidence"] in ("high", "medium") and profile["clone"]["evaluations"] >= 0
    # the kept voice's proxy speech was recognised (pocketsphinx runs in the Triton venv) ...
    checks = profile["clone"]["intelligibilityChecks"]
    assert 1 <= len(checks) <= kokoro_enrol.INTELLIGIBILITY_CHECKS
    assert profile["clone"]["proxyWer"] == min(check["proxyWer"] for check in checks)
    # ... and only a candidate the recogniser could not follow was passed over
    assert all(check["proxyWer"] > kokoro_enrol.INTELLIGIBLE_WER for check in checks[:-1])
    assert len(enrolled.profile_json) < voice_profile.MAX_PROFILE_BYTES
    fit = profile["clone"]["spectralMatch"]                       # enroll fitted the spectral correction ...
    assert fit["similarityAfter"] >= fit["similarityBefore"]
    assert ("spectralMatch" in profile) == (fit["frames"] != "none")  # ... and stored it only if it helped
    book, mix = exemplar_match.of_profile(profile)                # enroll learnt the speaker's envelope codebook
    assert mix == exemplar_match.mix_for(book) == exemplar_match.MIX    # ≈ 20 s of reference: the full mix
    assert len(book.voiced) > exemplar_match.VOICED_CODES // 2
    assert book.exemplars is not None and len(set(book.exemplars.phones)) >= 15   # its frames, labelled by phone
    assert 6000 < book.top_hz <= 7520                             # flite at 16 kHz: wideband, edge less 6 %
    # enroll ran the style fit within its budget, stored its offset, and synthesis applies it
    style_fit = profile["clone"]["styleFit"]
    assert "skipped" not in style_fit, style_fit
    assert style_fit["steps"] >= 2 and style_fit["fitEnd"] < style_fit["fitStart"] and style_fit["scale"] == 0.75
    assert style_fit["prepareS"] < style_fit["seconds"] <= style_fit["totalS"]
    assert style_fit["speakerEnd"] > style_fit["speakerStart"]    # the speaker term (GE2E in JAX) pulled toward it
    voicing = style_fit["voicing"]                                # the voicing check heard the fitted clone
    assert 0 < voicing["unfitted"] <= 1 and 0 <= voicing["fitted"] <= 1
    assert 0 <= voicing["kept"] <= 1                              # shrunk only where voiced frames were lost
    assert voicing["kept"] == 1 or voicing["fitted"] < kokoro_enrol.VOICING_KEPT * voicing["unfitted"] + 1e-3
    offset = kokoro_enrol.style_offset_of(profile)
    assert offset is not None and 0 < float(abs(offset).max()) < 10
    assert profile["enrolS"] <= 60 + 5                            # the budget, overrun by one step at most
    n = min(len(clone.samples), len(unfitted.samples))
    assert n > 0 and float(abs(clone.samples[:n] - unfitted.samples[:n]).max()) > 1e-3
    assert clone.sample_rate == stock.sample_rate == kokoro.SAMPLE_RATE
    target = speaker_encoder.embed(reference, RATE, fixed_level=True)
    sim_clone = float(speaker_encoder.embed(clone.samples, clone.sample_rate, fixed_level=True) @ target)
    sim_stock = float(speaker_encoder.embed(stock.samples, stock.sample_rate, fixed_level=True) @ target)
    assert sim_clone > sim_stock + 0.03, (sim_clone, sim_stock)
