"""What makes Kokoro synthesis cheaper without changing a sample: the cloned voice's style pack cached by its
recipe, ONNX Runtime's session settings (no spin-waiting; a second intra-op thread gives the same samples) — and,
changing samples a little, the partly int8 model CPU synthesis runs."""
from __future__ import annotations

import numpy as np
import pytest

from voicekit import kokoro
from voicekit import kokoro_enrol as ke
from voicekit.tts import Synthesizer

BASIS = ("af_heart", "af_bella", "am_adam")
RNG = np.random.default_rng(3)
PACKS = {name: RNG.normal(0, 0.3, size=(ke.ROWS, ke.DIM)).astype(np.float32) for name in BASIS}


class PackSource:
    """The one part of KokoroEngine that ``Synthesizer.recipe_style`` uses: stock packs by name (counted)."""

    def __init__(self):
        self.reads = 0

    def voice_pack(self, name):
        self.reads += 1
        return PACKS[name]

    def close(self):
        pass


def clone(weights) -> dict:
    coeffs = np.asarray(weights, dtype=np.float64)
    return {"version": 3, "method": ke.METHOD, "engineVoice": BASIS[0],
            "style": ke.Recipe(BASIS, coeffs, coeffs[::-1].copy()).to_dict()}


def test_lru_cache_makes_once_per_key_and_evicts_the_least_recently_used():
    cache = kokoro.LruCache(2)
    made = []

    def make(key):
        made.append(key)
        return [key]

    a = cache.get("a", lambda: make("a"))
    assert cache.get("a", lambda: make("a")) is a and made == ["a"]          # a hit returns the stored value
    cache.get("b", lambda: make("b"))
    cache.get("a", lambda: make("a"))                                       # a is now the most recent
    cache.get("c", lambda: make("c"))                                       # evicts b, not a
    assert made == ["a", "b", "c"] and len(cache) == 2
    cache.get("a", lambda: make("a"))
    cache.get("b", lambda: make("b"))
    assert made == ["a", "b", "c", "b"] and (cache.hits, cache.misses) == (3, 4)


def test_a_recipe_pack_is_built_once_and_equals_the_uncached_pack():
    source = PackSource()
    synthesizer = Synthesizer(kokoro=source)
    profile = clone([0.5, 0.3, 0.2])
    first = synthesizer.recipe_style(profile)
    reads = source.reads
    again = synthesizer.recipe_style(clone([0.5, 0.3, 0.2]))                 # an equal recipe, a new dict
    assert again is first and source.reads == reads                          # a hit: nothing rebuilt
    expected = ke.style_pack(ke.recipe_of(profile), PACKS)
    assert again.dtype == np.float32 and np.array_equal(again, expected)     # same values as without the cache
    assert not again.flags.writeable                                         # shared: nobody may change it
    with pytest.raises(ValueError):
        again[0, 0] = 1.0


def test_a_different_recipe_misses_the_cache():
    source = PackSource()
    synthesizer = Synthesizer(kokoro=source)
    one = synthesizer.recipe_style(clone([0.5, 0.3, 0.2]))
    other = synthesizer.recipe_style(clone([0.5, 0.2, 0.3]))
    assert not np.array_equal(one, other)
    assert np.array_equal(other, ke.style_pack(ke.recipe_of(clone([0.5, 0.2, 0.3])), PACKS))
    assert synthesizer._recipe_packs.misses == 2 and synthesizer._recipe_packs.hits == 0


def test_session_options_do_not_spin_unless_asked(monkeypatch):
    ort = pytest.importorskip("onnxruntime")
    monkeypatch.delenv("VOICEKIT_KOKORO_SPIN", raising=False)
    monkeypatch.delenv("VOICEKIT_KOKORO_THREADS", raising=False)
    options = kokoro.session_options(ort)
    assert options.intra_op_num_threads == 2
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    monkeypatch.setenv("VOICEKIT_KOKORO_SPIN", "1")
    monkeypatch.setenv("VOICEKIT_KOKORO_THREADS", "1")
    options = kokoro.session_options(ort)
    assert options.intra_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "1"


def test_two_threads_without_spinning_give_the_same_samples_as_one():
    if not kokoro.model_path(kokoro.assets_dir()).exists():
        pytest.skip("the Kokoro model is not installed (python -m stack up triton)")
    one = kokoro.KokoroEngine(threads=1, workers=1)
    two = kokoro.KokoroEngine(threads=2, workers=1)
    assert two.options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    tokens = kokoro.tokenize(one.phoneme_pieces("Hello there.", "en-us")[0], one.vocab)
    pack = one.voice_pack("af_heart")
    a, b = one.infer(tokens, pack), two.infer(tokens, pack)
    assert a.size > 12000 and np.array_equal(a, b)


def test_the_pitch_input_moves_the_voices_f0_and_1_speaks_as_the_graph_did():
    if not kokoro.model_path(kokoro.assets_dir()).exists():
        pytest.skip("the Kokoro model is not installed (python -m stack up triton)")
    from voicekit import pitch

    engine = kokoro.KokoroEngine(workers=1)
    assert engine.pitch_input
    tokens = kokoro.tokenize(engine.phoneme_pieces("Hello there, how are you today?", "en-us")[0], engine.vocab)
    pack = engine.voice_pack("af_heart")
    plain = engine.infer(tokens, pack)
    assert np.array_equal(engine.infer(tokens, pack, pitch=1.0), plain)
    engine.pitch_input = False   # what an engine over the int8 model (no pitch input) does: the style's own pitch
    assert np.array_equal(engine.infer(tokens, pack, pitch=1.2), plain)
    engine.pitch_input = True
    medians = [pitch.stats(pitch.track(engine.infer(tokens, pack, pitch=k), kokoro.SAMPLE_RATE)).median_hz
               for k in (1.0, 1.2, 0.85)]
    assert medians[1] / medians[0] == pytest.approx(1.2, rel=0.03)   # the decoder's source follows the factor
    assert medians[2] / medians[0] == pytest.approx(0.85, rel=0.03)


def test_cpu_synthesis_runs_the_partly_int8_model_and_says_what_the_float_model_says():
    directory = kokoro.assets_dir()
    if not (directory / kokoro.CPU_MODEL_FILE).exists():
        pytest.skip("the Kokoro models are not installed (python -m stack up triton)")
    assert kokoro.model_path(directory) == directory / kokoro.CPU_MODEL_FILE
    assert kokoro.model_path(directory, gpu=True) == directory / kokoro.MODEL_FILE   # a GPU runs the float model
    quantized = kokoro.KokoroEngine(workers=1)
    float_model = kokoro.KokoroEngine(workers=1, model_file=kokoro.MODEL_FILE)
    assert quantized.model_file == kokoro.CPU_MODEL_FILE and quantized.pitch_input
    tokens = kokoro.tokenize(quantized.phoneme_pieces("The birch canoe slid on the smooth planks.", "en-us")[0],
                             quantized.vocab)
    pack = quantized.voice_pack("am_michael")
    a, b = float_model.infer(tokens, pack), quantized.infer(tokens, pack)
    assert len(a) == len(b) > 24000                       # the same durations: the text encoder is untouched
    snr_db = 10 * np.log10(np.sum(a ** 2) / np.sum((a - b) ** 2))
    assert 15.0 < snr_db < 80.0                           # close to the float speech (measured ≈ 23 dB), not it


def test_the_model_file_is_the_partly_int8_one_on_cpu_the_float_one_on_a_gpu_and_the_named_one_when_named(
        tmp_path, monkeypatch):
    monkeypatch.delenv("VOICEKIT_KOKORO_MODEL", raising=False)
    assert kokoro.model_path(tmp_path) == tmp_path / kokoro.INT8_MODEL_FILE          # nothing derived yet
    (tmp_path / kokoro.MODEL_FILE).write_bytes(b"float")
    assert kokoro.model_path(tmp_path) == tmp_path / kokoro.MODEL_FILE
    (tmp_path / kokoro.CPU_MODEL_FILE).write_bytes(b"partly int8")
    assert kokoro.model_path(tmp_path) == tmp_path / kokoro.CPU_MODEL_FILE
    assert kokoro.model_path(tmp_path, gpu=True) == tmp_path / kokoro.MODEL_FILE
    monkeypatch.setenv("VOICEKIT_KOKORO_MODEL", "../elsewhere/" + kokoro.MODEL_FILE)   # a name, never a path
    assert kokoro.model_path(tmp_path) == tmp_path / kokoro.MODEL_FILE
