"""voicekit/style_fit.py: Kokoro's decoder as a JAX function of the style, and the pieces of the fit.

The ONNX interpreter is checked against ONNX Runtime on a small graph built here with the op kinds (and the
quantized AdaIN chain) that Kokoro's style-dependent decoder uses, values and gradient; the alignment helpers on
signals whose answer is known. The whole decoder's parity with ONNX Runtime is measured on the real model in
docs/voice-quality.md (correlation 0.99998 on a 3 s sentence).
"""
from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import jax.numpy as jnp  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from voicekit import style_fit as si  # noqa: E402


def style_graph():
    """style [1, 4] → AdaIN-like gains (quantized matmul) on x [1, 3, 8] → conv, grouped transposed conv, nearest
    upsampling, instance norm, snake-like sin, split/concat/slice: the op kinds of Kokoro's decoder path."""
    rng = np.random.default_rng(3)
    w_q = rng.integers(-100, 100, (2, 3)).astype(np.int8)
    inits = [
        numpy_helper.from_array(np.array([2, 2], np.int64), "splits"),
        numpy_helper.from_array(w_q, "w_q"),
        numpy_helper.from_array(np.int8(0), "w_zp"),
        numpy_helper.from_array(np.float32(0.01), "w_scale"),
        numpy_helper.from_array(np.array([2], np.int64), "axis2"),
        numpy_helper.from_array(rng.normal(0, 0.4, (3, 3, 3)).astype(np.float32), "conv_w"),
        numpy_helper.from_array(rng.normal(0, 0.1, (3,)).astype(np.float32), "conv_b"),
        numpy_helper.from_array(rng.normal(0, 0.4, (3, 1, 3)).astype(np.float32), "up_w"),
        numpy_helper.from_array(np.array([1, 1, 2], np.float32), "scales"),
        numpy_helper.from_array(np.array([1], np.int64), "one"),
        numpy_helper.from_array(np.array([0], np.int64), "zero"),
        numpy_helper.from_array(np.array([30], np.int64), "thirty"),
        numpy_helper.from_array(np.float32(1e-5), "eps"),
        numpy_helper.from_array(np.float32(2.0), "two"),
    ]
    nodes = [
        helper.make_node("Split", ["style", "splits"], ["s_a", "s_b"], axis=1),
        helper.make_node("DynamicQuantizeLinear", ["s_a"], ["q", "q_scale", "q_zp"]),
        helper.make_node("MatMulInteger", ["q", "w_q", "q_zp", "w_zp"], ["g_int"]),
        helper.make_node("Cast", ["g_int"], ["g_float"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["q_scale", "w_scale"], ["g_scale"]),
        helper.make_node("Mul", ["g_float", "g_scale"], ["gain"]),
        helper.make_node("Unsqueeze", ["gain", "axis2"], ["gain3"]),
        helper.make_node("ReduceMean", ["x"], ["mean"], axes=[2], keepdims=1),
        helper.make_node("Sub", ["x", "mean"], ["centred"]),
        helper.make_node("Pow", ["centred", "two"], ["square"]),
        helper.make_node("ReduceMean", ["square"], ["var"], axes=[2], keepdims=1),
        helper.make_node("Add", ["var", "eps"], ["var_eps"]),
        helper.make_node("Sqrt", ["var_eps"], ["std"]),
        helper.make_node("Div", ["centred", "std"], ["normed"]),
        helper.make_node("Mul", ["normed", "gain3"], ["styled"]),
        helper.make_node("LeakyRelu", ["styled"], ["act"], alpha=0.2),
        helper.make_node("Conv", ["act", "conv_w", "conv_b"], ["conv"], pads=[1, 1], kernel_shape=[3]),
        helper.make_node("ConvTranspose", ["conv", "up_w"], ["up"], group=3, kernel_shape=[3], strides=[2],
                         pads=[1, 1], output_padding=[1]),
        helper.make_node("Resize", ["conv", "", "scales"], ["near"], mode="nearest",
                         coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
        helper.make_node("Add", ["up", "near"], ["both"]),
        helper.make_node("Sin", ["both"], ["wave"]),
        helper.make_node("Shape", ["wave"], ["wave_shape"]),
        helper.make_node("Gather", ["wave_shape", "zero"], ["batch"], axis=0),
        helper.make_node("Concat", ["batch", "three", "two_i"], ["expand_shape"], axis=0),
        helper.make_node("Slice", ["wave", "one", "thirty", "axis2"], ["sliced"]),
        helper.make_node("Unsqueeze", ["s_b", "axis2"], ["s_b3"]),
        helper.make_node("Slice", ["s_b3", "zero", "one", "one"], ["s_b_first"]),
        helper.make_node("Expand", ["s_b_first", "expand_shape"], ["s_b_wide"]),
        helper.make_node("Concat", ["sliced", "s_b_wide"], ["joined"], axis=2),
        helper.make_node("Exp", ["joined"], ["y"]),
    ]
    inits += [numpy_helper.from_array(np.array([3], np.int64), "three"),
              numpy_helper.from_array(np.array([2], np.int64), "two_i")]
    graph = helper.make_graph(
        nodes, "style_graph",
        [helper.make_tensor_value_info("style", TensorProto.FLOAT, [1, 4]),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 17])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def interpret(model, style, x):
    constants = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    env = {"style": style, "x": x}
    for node in model.graph.node:
        si._run(node, si._attributes(node), env, constants)
    return env["y"]


@pytest.fixture(scope="module")
def graph_and_session():
    model = style_graph()
    return model, ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


# style values on the quantization grid of DynamicQuantizeLinear (range 0-2.55: scale 0.01, zero point 0), so the
# float computation the interpreter does equals ONNX Runtime's integer one exactly
STYLE = np.array([[1.27, 2.55, 0.3, -0.7]], np.float32)
X = np.random.default_rng(5).normal(0, 1, (1, 3, 8)).astype(np.float32)


def test_the_interpreter_computes_what_onnx_runtime_computes(graph_and_session):
    model, session = graph_and_session
    expected = session.run(["y"], {"style": STYLE, "x": X})[0]
    got = np.asarray(jax.jit(lambda s: interpret(model, s, X))(jnp.asarray(STYLE)))
    assert got.shape == expected.shape == (1, 3, 17)
    np.testing.assert_allclose(got, expected, rtol=2e-4, atol=2e-5)


def test_the_interpreter_gives_the_gradient_of_the_graph(graph_and_session):
    model, session = graph_and_session
    direction = np.array([[0.0, 0.0, 1.0, 0.0]], np.float32)   # the un-quantized half: a smooth path in ORT

    def loss_onnx(style):
        return float(np.sum(session.run(["y"], {"style": style, "x": X})[0] ** 2))

    step = 1e-2
    numeric = (loss_onnx(STYLE + step * direction) - loss_onnx(STYLE - step * direction)) / (2 * step)
    gradient = jax.grad(lambda s: jnp.sum(interpret(model, s, X) ** 2))(jnp.asarray(STYLE))
    assert float(gradient[0, 2]) == pytest.approx(numeric, rel=1e-2)
    assert float(jnp.abs(gradient[0, :2]).max()) > 0   # the quantized half feeds the gains: it has a gradient too


def test_an_op_outside_the_decoder_is_refused():
    node = helper.make_node("Einsum", ["a"], ["b"], equation="ij->ji")
    with pytest.raises(NotImplementedError, match="Einsum"):
        si._run(node, {}, {"a": jnp.ones((2, 2))}, {})


# ------------------------------------------------------------------------------------------------ alignment


def test_dtw_pairs_a_stretched_copy_with_its_source():
    rng = np.random.default_rng(1)
    a = rng.normal(0, 1, (20, 3))
    b = np.repeat(a, 2, axis=0)                       # every frame twice: frame j of b is frame j // 2 of a
    path = si.dtw_path(a, b)
    assert path[0].tolist() == [0, 0] and path[-1].tolist() == [19, 39]
    assert np.all(np.diff(path, axis=0) >= 0)           # monotonic
    assert all(i == j // 2 for i, j in path)


def test_aligned_targets_average_the_paired_frames_and_drop_quiet_or_unusable_ones():
    reference = np.arange(12, dtype=np.float32).reshape(6, 2)
    path = np.array([[0, 0], [0, 1], [1, 2], [2, 3], [3, 4], [3, 5]])
    loud = np.array([1, 1, 1, 0, 1, 1], np.float32)      # reference frame 3 is quiet
    usable = np.array([True, True, True, True, False, True])
    targets, weights = si.aligned_targets(path, reference, 5, loud, quiet=0.5, usable=usable)
    np.testing.assert_allclose(targets[0], reference[:2].mean(axis=0))
    np.testing.assert_allclose(targets[1], reference[2])
    np.testing.assert_allclose(targets[3], reference[5])     # the unusable pair (3, 4) is left out
    assert weights.tolist() == [1, 1, 0, 1, 0]               # frame 2: only a quiet partner; frame 4: none


def test_speech_spans_split_at_pauses():
    rate = 16000
    t = np.arange(int(0.8 * rate)) / rate
    burst = 0.5 * np.sin(2 * np.pi * 200 * t).astype(np.float32)
    silence = np.zeros(int(0.5 * rate), np.float32)
    samples = np.concatenate([silence, burst, silence, burst, silence])
    spans = si.speech_spans(samples, rate, margin_s=0.0)
    assert len(spans) == 2
    for (start, end), expected in zip(spans, (0.5, 1.8), strict=True):
        assert start / rate == pytest.approx(expected, abs=0.02)
        assert (end - start) / rate == pytest.approx(0.8, abs=0.03)
    assert si.speech_spans(np.zeros(100, np.float32), rate) == []


def test_fixed_length_crops_long_text_and_pads_short_text_with_silence():
    features = np.ones((1, 512, 150), np.float32)
    curve = np.full((1, 300), 120.0, np.float32)
    out = si._fixed_length(features, curve, curve - 200, 120)
    assert [a.shape for a in out[:3]] == [(1, 512, 120), (1, 240), (1, 240)] and out[3] == 120
    short = si._fixed_length(features[:, :, :70], curve[:, :140], curve[:, :140] - 200, 120)
    assert short[3] == 70
    assert np.all(short[0][:, :, 70:] == 0) and np.all(short[1][:, 140:] == 0)
    assert np.all(short[2][:, 140:] == -80.0)          # the lowest energy of the text


def test_cepstra_are_the_same_in_numpy_and_jax():
    rng = np.random.default_rng(2)
    audio = rng.normal(0, 0.1, 6000).astype(np.float32)
    filters, dct = si.mel_matrix(3800.0), si.dct_matrix()
    numpy_ceps, _ = si.cepstra(audio, filters, dct)
    jax_ceps, _ = si.cepstra(jnp.asarray(audio), filters, dct, jnp)
    assert numpy_ceps.shape == (1 + 6000 // si.HOP, si.CEPSTRA)
    np.testing.assert_allclose(np.asarray(jax_ceps), numpy_ceps, rtol=1e-3, atol=1e-3)
    assert filters[:, np.fft.rfftfreq(si.NFFT, 1 / si.SAMPLE_RATE) > 3800].max() == 0   # nothing above the band


def test_a_fitter_that_cannot_be_built_says_so_and_fits_nothing(tmp_path):
    class NoModel:   # an engine whose directory holds no float-convolution model
        directory = tmp_path
        voices = {"af_a": None, "am_b": None}

        def voice_pack(self, name):
            return np.zeros((510, 256), np.float32)

    said = []
    fitter = si.Fitter(NoModel(), background=False, log=said.append)
    assert not fitter.ready and fitter.wait(0) is False and fitter.status == "unavailable"
    assert fitter.error and "style fit unavailable" in said[0]
    offset, report = fitter.fit(np.zeros(16000, np.float32), 16000, np.zeros((510, 256), np.float32), 4000.0)
    assert offset is None and report == {"skipped": "unavailable"}


# ------------------------------------------------------------------------------------------------ the harmonic path


def stft_graph(length: int):
    """signal [1, length, 1] → STFT (hop 5, Hann 20) → magnitude and phase (Atan of im / re), as Kokoro's generator
    analyses its harmonic source."""
    inits = [numpy_helper.from_array(np.array(5, np.int64), "step"),
             numpy_helper.from_array(np.hanning(20).astype(np.float32), "window"),
             numpy_helper.from_array(np.array(20, np.int64), "frame_length"),
             numpy_helper.from_array(np.array([0], np.int64), "re_index"),
             numpy_helper.from_array(np.array([1], np.int64), "im_index")]
    nodes = [helper.make_node("STFT", ["signal", "step", "window", "frame_length"], ["spec"], onesided=1),
             helper.make_node("Gather", ["spec", "re_index"], ["re"], axis=3),
             helper.make_node("Gather", ["spec", "im_index"], ["im"], axis=3),
             helper.make_node("Div", ["im", "re"], ["ratio"]),
             helper.make_node("Atan", ["ratio"], ["phase"])]
    graph = helper.make_graph(nodes, "stft", [helper.make_tensor_value_info("signal", TensorProto.FLOAT,
                                                                          [1, length, 1])],
                              [helper.make_tensor_value_info("spec", TensorProto.FLOAT, None),
                               helper.make_tensor_value_info("phase", TensorProto.FLOAT, None)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_stft_and_atan_are_interpreted_as_onnx_runtime_runs_them():
    signal = np.random.default_rng(4).normal(0, 1, (1, 203, 1)).astype(np.float32)
    model = stft_graph(203)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    spec, phase = session.run(["spec", "phase"], {"signal": signal})
    constants = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for given in (signal, signal[..., 0]):          # [batch, length, 1] and [batch, length]
        env = {"signal": jnp.asarray(given)}
        for node in model.graph.node:
            si._run(node, si._attributes(node), env, constants)
        assert np.asarray(env["spec"]).shape == spec.shape == (1, 37, 11, 2)
        np.testing.assert_allclose(np.asarray(env["spec"]), spec, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(np.asarray(env["phase"]), phase, rtol=1e-3, atol=1e-4)


# ------------------------------------------------------------------------------------------------ a fit elsewhere


def split_graph(model) -> si.DecoderGraph:
    """The test graph as a :class:`DecoderGraph` whose JAX part is all of it (x: what ONNX Runtime would hand over)."""
    graph = si.DecoderGraph.__new__(si.DecoderGraph)
    graph.nodes = list(model.graph.node)
    graph.attributes = [si._attributes(n) for n in graph.nodes]
    graph.constants = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    graph.output = graph.nodes[-1].output[0]
    return graph


def test_a_saved_decoder_loads_with_the_same_weights_and_output(tmp_path):
    graph = split_graph(style_graph())
    many = np.random.default_rng(6).normal(0, 1, 400).astype(np.float32)   # > 256 distinct: stored as is
    graph.constants["unused_float"] = many
    graph.save(tmp_path / "decoder.npz")
    loaded = si.DecoderGraph.load(tmp_path / "decoder.npz")
    assert list(loaded.constants) == list(graph.constants)
    for name, value in graph.constants.items():
        assert loaded.constants[name].dtype == value.dtype and np.array_equal(loaded.constants[name], value), name
    assert [n.SerializeToString() for n in loaded.nodes] == [n.SerializeToString() for n in graph.nodes]
    np.testing.assert_array_equal(np.asarray(loaded.audio(jnp.asarray(STYLE), {"x": X})),
                                  np.asarray(graph.audio(jnp.asarray(STYLE), {"x": X})))


def linear_voice(frames: int) -> si.DecoderGraph:
    """A 'decoder' whose audio is a fixed linear map of the style: 600 samples a frame, differentiable."""
    weights = np.random.default_rng(7).normal(0, 0.02, (256, frames * si.FRAME)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["style", "w"], ["audio"])]
    graph = helper.make_graph(nodes, "linear", [], [], initializer=[numpy_helper.from_array(weights, "w")])
    return split_graph(helper.make_model(graph))


def linear_fit(seed: int):
    """(an 8-step inverter over :func:`linear_voice`, the start style, the mel filters, the cepstra of a timbre
    off the start): a fit whose answer is known."""
    frames = 4
    graph = linear_voice(frames)
    inverter = si.StyleInverter(graph, np.ones((1, 128), np.float32), frames=frames, steps=8, learning_rate=0.1,
                                pull=0.0, fixed={})
    filters, dct = si.mel_matrix(7600.0), si.dct_matrix()
    rng = np.random.default_rng(seed)
    start = rng.normal(0, 1, (1, 256)).astype(np.float32)
    wanted = start + np.concatenate([rng.normal(0, 1, (1, 128)), np.zeros((1, 128))], axis=1).astype(np.float32)
    targets, _ = si.cepstra(np.asarray(graph.audio(wanted, {})).reshape(-1), filters, dct)
    return inverter, start, filters, targets[: inverter.cepstral_frames].astype(np.float32)


def test_descend_lowers_the_fit_error_and_keeps_the_snapshots_asked_for():
    inverter, start, filters, targets = linear_fit(8)
    problem = si.FitProblem(start, {}, filters, targets, np.ones(inverter.cepstral_frames, np.float32))
    found = inverter.descend(problem, snapshots=(2, 5))
    assert found.steps == 8 and len(found.history) == 8
    assert found.fit_end < 0.9 * found.fit_start
    assert sorted(found.snapshots) == [2, 5] and found.offset.shape == (128,)
    assert np.abs(found.snapshots[2]).max() > 0 and not np.array_equal(found.snapshots[2], found.offset)
    assert inverter.step_s is not None and inverter.step_s > 0
    late = inverter.descend(problem, deadline=0.0)        # a deadline already past, a step's cost known: no step
    assert late.steps == 0 and not late.offset.any()
    inverter.step_s = None
    early = inverter.descend(problem, deadline=0.0)       # the cost not yet known: one step, no more
    assert early.steps == 1


def test_ahead_keeps_the_last_update_after_a_step_that_improved_and_the_best_evaluated_offset_otherwise():
    inverter, start, filters, targets = linear_fit(9)
    problem = si.FitProblem(start, {}, filters, targets, np.ones(inverter.cepstral_frames, np.float32))
    ahead = si.StyleInverter(inverter.graph, np.ones((1, 128), np.float32), frames=inverter.frames, steps=8,
                             learning_rate=0.1, pull=0.0, fixed={}, ahead=True)
    plain, kept = inverter.descend(problem, snapshots=(4,)), ahead.descend(problem, snapshots=(4,))
    assert plain.history == kept.history and kept.ahead and not plain.ahead
    # the update after step 8 is what a ninth step evaluates: a 9-step fit scores it, lower than any of the 8
    inverter.steps = 9
    longer = inverter.descend(problem)
    assert longer.history[-1] < min(plain.history)
    np.testing.assert_allclose(kept.offset, longer.offset, atol=1e-6)
    assert not np.allclose(kept.offset, plain.offset)
    assert kept.history[3] < min(kept.history[:3])                        # step 4 improved too: its update is kept
    assert not np.allclose(kept.ahead_snapshots[4], plain.snapshots[4])
    # a step too long makes the objective worse: the best evaluated offset (the start) is kept, not the update
    wild = si.StyleInverter(inverter.graph, np.ones((1, 128), np.float32), frames=inverter.frames, steps=2,
                            learning_rate=50.0, pull=0.0, fixed={}, ahead=True)
    overshot = wild.descend(problem)
    assert overshot.history[1] > overshot.history[0] and not overshot.ahead and not overshot.offset.any()
    # with several windows the objectives do not compare: the evaluated best is kept
    windows = si.FitProblem(start, {}, filters, targets, np.ones(inverter.cepstral_frames, np.float32),
                            more=[({}, targets, np.ones(inverter.cepstral_frames, np.float32))])
    assert not ahead.descend(windows).ahead


def test_phones_are_read_as_kokoros_english_words_stressed_where_held_and_split_at_silence():
    segments = [("SIL", 0, 20), ("SH", 21, 28), ("IY", 29, 40), ("S", 41, 48), ("AH", 49, 52), ("+NSN+", 53, 60),
                ("DH", 61, 64), ("AH", 65, 80), ("B", 81, 84), ("ER", 85, 88), ("D", 89, 92), ("AY", 93, 95),
                ("T", 96, 99), ("OW", 100, 115), ("SIL", 116, 140)]
    # IY and the second AH held ≥ 80 ms: stressed; the short AH and ER reduced; noise ends a word, and after a
    # word's second vowel a consonant starting a syllable (D before AY) starts the next one
    assert si.phones_to_ipa(segments) == "ʃˈisə ðˈʌbəɹ dItˈO"
    assert si.phones_to_ipa([("SIL", 0, 30)]) == "" and si.phones_to_ipa([]) == ""


def test_the_phone_transcript_is_what_kokoro_reads_and_the_word_one_goes_through_english_phonemes():
    class Labeller:
        def phones(self, samples, rate):
            return [("HH", 0, 5), ("AH", 6, 20), ("L", 21, 25), ("OW", 26, 40)]

    class Engine:
        vocab = {symbol: k + 1 for k, symbol in enumerate("hʌlOˈ ")}

    heard = si.PhoneTranscriber(Labeller()).transcribe(np.zeros(16000, np.float32), 16000)
    assert heard == "hˈʌlˈO"
    assert si.transcript_tokens(Engine(), heard, "phones") == [1, 5, 2, 3, 5, 4]
    assert si.transcript_tokens(Engine(), "", "phones") == []
    assert isinstance(si.transcriber("phones"), si.PhoneTranscriber)


def test_a_centred_fit_does_not_hear_the_recordings_long_term_colour_and_still_fits_the_envelope():
    inverter, start, filters, targets = linear_fit(12)
    centred = si.StyleInverter(inverter.graph, np.ones((1, 128), np.float32), frames=inverter.frames, steps=8,
                               learning_rate=0.1, pull=0.0, fixed={}, centre=1.0)
    weights = np.ones(inverter.cepstral_frames, np.float32)
    weights[::3] = 0.0                                   # the means are over the fitted frames only
    coloured = targets.copy()
    coloured[:, 1:] += np.random.default_rng(13).normal(0, 1.0, 29).astype(np.float32)  # a channel's tilt
    coloured[::3] += 5.0                                 # frames not fitted: nothing of theirs counts

    def fitted(fit, wanted):
        return fit.descend(si.FitProblem(start, {}, filters, wanted, weights))

    plain_start = fitted(inverter, targets).fit_start
    assert fitted(inverter, coloured).fit_start > plain_start + 0.2     # absolute cepstra: the colour is an error
    clean, tinted = fitted(centred, targets), fitted(centred, coloured)
    assert tinted.fit_start == pytest.approx(clean.fit_start, rel=1e-4)  # centred: the colour is not heard
    assert tinted.fit_end < 0.9 * tinted.fit_start                       # and the envelope's shape is still fitted
    np.testing.assert_allclose(tinted.offset, clean.offset, atol=1e-3)


def test_the_steps_take_the_windows_in_turn_and_keep_what_improved_on_its_own_window():
    inverter, start, filters, targets = linear_fit(11)
    unweighted = np.zeros(inverter.cepstral_frames, np.float32)   # a window that pairs nothing: no gradient
    alone = inverter.descend(si.FitProblem(start, {}, filters, targets, unweighted))
    assert not alone.offset.any()                                  # one such window: nothing to fit
    problem = si.FitProblem(start, {}, filters, targets, unweighted,
                            more=[({}, targets, np.ones(inverter.cepstral_frames, np.float32))])
    found = inverter.descend(problem)
    assert found.steps == 8
    assert all(found.history[k] == 0.0 for k in range(0, 8, 2))    # steps 1, 3, … scored the first window
    second = found.history[1::2]                                    # steps 2, 4, … the second, which pairs
    assert second[-1] < 0.9 * second[0]
    assert found.offset.any() and found.fit_end == min(second)


def test_a_fit_confined_to_a_basis_moves_only_along_it():
    frames = 4
    graph = linear_voice(frames)
    rng = np.random.default_rng(9)
    basis = np.linalg.qr(rng.normal(0, 1, (128, 5)))[0].T.astype(np.float32)   # 5 orthonormal directions
    spread = rng.uniform(0.5, 2.0, (1, 128)).astype(np.float32)
    inverter = si.StyleInverter(graph, spread, frames=frames, steps=8, learning_rate=0.1, pull=0.0, fixed={},
                                basis=basis)
    assert inverter.dims == 5
    filters, dct = si.mel_matrix(7600.0), si.dct_matrix()
    start = rng.normal(0, 1, (1, 256)).astype(np.float32)
    wanted = start + np.concatenate([spread * (rng.normal(0, 1, (1, 5)) @ basis), np.zeros((1, 128))],
                                    axis=1).astype(np.float32)
    targets, _ = si.cepstra(np.asarray(graph.audio(wanted, {})).reshape(-1), filters, dct)
    problem = si.FitProblem(start, {}, filters, targets[: inverter.cepstral_frames].astype(np.float32),
                            np.ones(inverter.cepstral_frames, np.float32))
    found = inverter.descend(problem, snapshots=(3,))
    assert found.fit_end < 0.9 * found.fit_start
    for offset in (found.offset, found.snapshots[3]):
        moved = offset / spread.reshape(-1)                  # back in spread units: within the basis's span
        assert np.abs(moved).max() > 0
        assert np.linalg.norm(moved - (moved @ basis.T) @ basis) < 1e-4 * np.linalg.norm(moved)


def test_the_timbre_basis_spans_how_the_voices_differ():
    rng = np.random.default_rng(10)
    directions = np.linalg.qr(rng.normal(0, 1, (128, 3)))[0].T            # the voices differ along 3 directions
    timbres = (rng.normal(0, 1, (1, 20, 128)) * 0.1                        # a voice all share, per row
               + rng.normal(0, 1, (6, 20, 3)) @ directions).astype(np.float32) + 0.5
    spread = si.timbre_spread(timbres).reshape(-1)
    basis = si.timbre_basis(timbres, 3)
    assert basis.shape == (3, 128)
    np.testing.assert_allclose(basis @ basis.T, np.eye(3), atol=1e-5)
    deviations = ((timbres - timbres.mean(axis=0)) / spread).reshape(-1, 128)
    residual = deviations - (deviations @ basis.T) @ basis
    assert np.linalg.norm(residual) < 1e-3 * np.linalg.norm(deviations)
    assert np.linalg.norm(deviations - (deviations @ basis[:2].T) @ basis[:2]) > 0.1 * np.linalg.norm(deviations)


class Clock:
    """A stand-in for the module's ``time``: only :meth:`monotonic`, advanced by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


class SlowRecogniser:
    """Each stretch of speech costs ``seconds`` of ``clock`` time and is heard as one word."""

    def __init__(self, clock: Clock, seconds: float) -> None:
        self.clock, self.seconds, self.calls = clock, seconds, 0

    def transcribe(self, clip, rate):
        self.calls += 1
        self.clock.now += self.seconds
        return f"word{self.calls}"


def stretches(count: int, rate: int = 16000) -> np.ndarray:
    """``count`` 1 s tones separated by 0.5 s of silence."""
    t = np.arange(rate) / rate
    tone, gap = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), np.zeros(rate // 2, np.float32)
    return np.concatenate([np.concatenate([tone, gap]) for _ in range(count)])


def test_reference_text_stops_transcribing_when_its_time_is_up(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(si, "time", clock)
    audio = stretches(5)
    whole, text = si.reference_text(audio, 16000, SlowRecogniser(clock, 2.0), segment_s=10.0)
    assert text == "word1. word2. word3. word4. word5" and len(whole) > 5 * 16000
    slow = SlowRecogniser(clock, 2.0)
    part, text = si.reference_text(audio, 16000, slow, segment_s=10.0, stop_at=clock.now + 3.0)
    assert slow.calls == 2 and text == "word1. word2" and len(part) < len(whole)
    past, text = si.reference_text(audio, 16000, SlowRecogniser(clock, 2.0), segment_s=10.0, stop_at=0.0)
    assert text == "word1"      # at least one stretch, however late


def test_a_fit_whose_transcription_leaves_too_little_time_is_skipped_not_overrun(monkeypatch, tmp_path):
    clock = Clock()
    monkeypatch.setattr(si, "time", clock)

    class NoModel:
        directory = tmp_path
        voices: dict = {}

    fitter = si.Fitter(NoModel(), settings=si.CPU_SETTINGS, background=False)
    fitter.inverter = object()   # ready as far as fit() can tell: what follows the transcript must not be reached
    fitter._recogniser = SlowRecogniser(clock, 4.0)
    deadline = clock.now + si.CPU_SETTINGS.after_transcript_s + 3.0
    offset, report = fitter.fit(stretches(5), 16000, np.zeros((510, 256), np.float32), 4000.0, deadline=deadline)
    assert offset is None and report == {"skipped": "budget spent transcribing"}
    assert fitter._recogniser.calls == 1    # the second stretch would have started past its time


def test_a_cap_shrinks_only_an_offset_larger_than_it_and_keeps_its_direction():
    spread = np.linspace(0.5, 2.0, si.STYLE_HALF).astype(np.float32).reshape(1, -1)
    offset = (spread.reshape(-1) * np.where(np.arange(si.STYLE_HALF) % 2, 1.5, -0.5)).astype(np.float32)
    size = si.offset_size(offset, spread)
    assert size == pytest.approx(np.sqrt((1.5 ** 2 + 0.5 ** 2) / 2))   # in spreads, whatever each dim's scale
    shrunk = si.capped(offset, spread, 0.6)
    assert si.offset_size(shrunk, spread) == pytest.approx(0.6, rel=1e-5)
    assert np.allclose(shrunk / offset, 0.6 / size, rtol=1e-5)   # along itself: only its length changes
    assert si.capped(offset, spread, size + 0.01) is offset and si.capped(offset, spread, 0.0) is offset


def test_a_gpu_runs_a_longer_fit_and_the_cpu_keeps_its_measured_settings():
    cpu, gpu = si.settings_for("cpu"), si.settings_for("gpu")
    assert si.settings_for("cuda") == si.settings_for("rocm") == gpu and cpu == si.CPU_SETTINGS
    assert (cpu.frames, cpu.segment_s) == (120, 8.0)   # session 13's window; session 34's longer transcript
    assert cpu.learning_rate == 0.3   # session 27's: with the pull, a larger step at no OVRL cost
    assert cpu.steps == 12 and cpu.reserve_s == 28.0 and cpu.speaker_weight == 4.0   # session 21's: more steps
    assert cpu.campplus_weight == 2.0 and gpu.campplus_weight == 0.0   # session 22's; never measured on a GPU
    assert gpu.steps > cpu.steps and gpu.frames > cpu.frames and gpu.segment_s >= gpu.frames / 40 * 2
    assert cpu.min_s <= cpu.reserve_s and gpu.min_s <= gpu.reserve_s
    assert cpu.scale == 0.75 and cpu.pull == 1.0   # session 25's: a pulled fit, more of it kept
    assert not cpu.ahead and not gpu.ahead and cpu.transcript == gpu.transcript == "words"   # session 28's A/Bs
    assert gpu.pull == si.PULL and 0 < gpu.scale < cpu.scale   # the longer fit moves further: less of it


# ------------------------------------------------------------------------------------------- the speaker term


def installed_weights(module):
    """The weights of ``module``'s process-wide encoder (speaker_encoder, campplus); a failure that says how to
    install them when they are missing."""
    from voicekit.errors import VoicekitError

    try:
        return module.default_encoder().weights
    except VoicekitError as exc:
        pytest.fail(f"{exc.message} (.venv/bin/python -m pip install --no-deps "
                    f"-r triton_models/requirements-nodeps.txt)", pytrace=False)


def ge2e_weights():
    from voicekit import speaker_encoder

    return installed_weights(speaker_encoder)


def read_ge2e_clip(name: str) -> tuple[np.ndarray, int]:
    from pathlib import Path

    from voicekit import pcm

    return pcm.read_wav(str(Path(__file__).resolve().parents[1] / "data" / "ge2e" / name))


@pytest.mark.parametrize("name", ["flite_rms_fox.wav", "flite_slt_check.wav"])
def test_the_jax_ge2e_is_the_numpy_encoder_on_speech(name):
    """ge2e_jax = speaker_encoder at a fixed level without silence trimming, through its FFT resampling."""
    from scipy.signal import resample_poly

    from voicekit import ge2e_jax
    from voicekit import speaker_encoder as se

    samples, rate = read_ge2e_clip(name)
    clip = resample_poly(np.asarray(samples, np.float32), 24000, rate).astype(np.float32)[:48000]
    weights = ge2e_weights()
    expected = se.embed_preprocessed(se.normalize_volume(se.resample(clip, 24000), increase_only=False), weights)
    got = np.asarray(jax.jit(ge2e_jax.embedder(weights, len(clip), 24000))(jnp.asarray(clip)))
    assert float(expected @ got) > 0.999
    other = se.embed_preprocessed(se.normalize_volume(se.resample(clip[::-1].copy(), 24000), increase_only=False),
                                  weights)
    assert float(other @ got) < float(expected @ got) - 1e-3   # the comparison can tell clips apart


def test_the_jax_ge2e_in_a_band_is_the_numpy_encoder_on_the_band_limited_clip():
    """With ``band_hz`` the JAX encoder hears what a telephone recording holds: the numpy encoder's embedding of the
    clip low-passed at that frequency, not the whole-band one; a band above 8 kHz cuts nothing."""
    from scipy.signal import resample_poly

    from voicekit import ge2e_jax
    from voicekit import speaker_encoder as se

    samples, rate = read_ge2e_clip("flite_slt_check.wav")
    clip = resample_poly(np.asarray(samples, np.float32), 24000, rate).astype(np.float32)[:48000]
    weights = ge2e_weights()

    def numpy_embedding(audio):
        return se.embed_preprocessed(se.normalize_volume(se.resample(audio, 24000), increase_only=False), weights)

    spectrum = np.fft.rfft(clip)
    spectrum[np.fft.rfftfreq(len(clip), 1 / 24000) > 3400] = 0
    narrow = np.fft.irfft(spectrum, n=len(clip)).astype(np.float32)
    embed = jax.jit(ge2e_jax.embedder(weights, len(clip), 24000))
    in_band = np.asarray(embed(jnp.asarray(clip), np.float32(3400)))
    assert float(numpy_embedding(narrow) @ in_band) > 0.999
    assert float(numpy_embedding(clip) @ in_band) < 0.99          # the band changed what it hears
    whole = np.asarray(embed(jnp.asarray(clip), np.float32(si.WHOLE_BAND_HZ)))
    assert float(numpy_embedding(clip) @ whole) > 0.999


def test_the_speaker_term_moves_the_style_toward_the_target_voice():
    """With no envelope targets (all weights zero) only the speaker term pulls: the window's GE2E similarity to a
    speaker's embedding rises, is reported, and the term is off without a target."""
    from voicekit import ge2e_jax
    from voicekit import speaker_encoder as se

    frames = 8
    graph = linear_voice(frames)
    weights = ge2e_weights()
    inverter = si.StyleInverter(graph, np.ones((1, 128), np.float32), frames=frames, steps=6, learning_rate=0.3,
                                pull=0.0, fixed={}, speaker_weight=4.0, encoder=weights)
    start = np.random.default_rng(9).normal(0, 1, (1, 256)).astype(np.float32)
    embed = jax.jit(ge2e_jax.embedder(weights, frames * si.FRAME, si.SAMPLE_RATE))
    target = se.SpeakerEncoder(weights).embed(*read_ge2e_clip("flite_rms_fox.wav"), fixed_level=True)
    zeros = np.zeros((inverter.cepstral_frames, si.CEPSTRA), np.float32)
    problem = si.FitProblem(start, {}, si.mel_matrix(7600.0), zeros, np.zeros(inverter.cepstral_frames, np.float32),
                            speaker=target)
    found = inverter.descend(problem)
    assert found.speaker_start is not None and found.speaker_end is not None
    assert found.speaker_end > found.speaker_start + 0.01
    assert found.report()["speakerEnd"] == round(found.speaker_end, 4)
    fitted = np.concatenate([start[:, :128] + found.offset, start[:, 128:]], axis=1)
    assert float(np.asarray(embed(graph.audio(fitted, {}).reshape(-1))) @ target) == pytest.approx(
        found.speaker_end, abs=1e-3)
    problem.speaker = None
    untargeted = inverter.descend(problem)
    assert untargeted.speaker_start is None and not untargeted.offset.any()   # nothing pulls: no move


# ------------------------------------------------------------------------------------------ the CAM++ term


def campplus_weights():
    from voicekit import campplus

    return installed_weights(campplus)


def numpy_campplus(audio_24k: np.ndarray, weights) -> np.ndarray:
    """The numpy CAM++ of a 24 kHz clip, L2-normed; resampled by a polyphase filter (soxr, which the service uses,
    rolls off earlier below 8 kHz: cosine 0.987-0.999 to the JAX encoder's brick wall on these clips)."""
    from scipy.signal import resample_poly

    from voicekit import campplus

    raw = campplus.network(campplus.fbank(resample_poly(audio_24k, 2, 3).astype(np.float32)), weights)
    return raw / np.linalg.norm(raw)


@pytest.mark.parametrize("name", ["flite_rms_fox.wav", "flite_slt_check.wav"])
def test_the_jax_campplus_is_the_numpy_encoder_on_speech(name):
    """campplus_jax = campplus (features and network) through its FFT resampling."""
    from scipy.signal import resample_poly

    from voicekit import campplus_jax

    samples, rate = read_ge2e_clip(name)
    clip = resample_poly(np.asarray(samples, np.float32), 24000, rate).astype(np.float32)[:48000]
    weights = campplus_weights()
    embed = jax.jit(campplus_jax.embedder(weights, len(clip), 24000))
    got = np.asarray(embed(jnp.asarray(clip)))
    expected = numpy_campplus(clip, weights)
    assert float(expected @ got) > 0.995
    assert float(numpy_campplus(clip[::-1].copy(), weights) @ got) < float(expected @ got) - 0.05


def test_the_jax_campplus_in_a_band_hears_nothing_above_it():
    """With ``band_hz`` what lies above the band cannot change the embedding (so a fit toward a telephone recording has
    nothing to gain from muffling the clone), while the whole-band embedding hears it."""
    from scipy.signal import resample_poly

    from voicekit import campplus_jax

    samples, rate = read_ge2e_clip("flite_slt_check.wav")
    clip = resample_poly(np.asarray(samples, np.float32), 24000, rate).astype(np.float32)[:48000]
    hiss = np.fft.rfft(np.random.default_rng(4).normal(0, 0.05, len(clip)))
    hiss[np.fft.rfftfreq(len(clip), 1 / 24000) <= 4000] = 0
    hissed = clip + np.fft.irfft(hiss, n=len(clip)).astype(np.float32)   # noise above 4 kHz only
    embed = jax.jit(campplus_jax.embedder(campplus_weights(), len(clip), 24000))
    band = np.float32(3400)
    assert float(np.asarray(embed(jnp.asarray(clip), band)) @ np.asarray(embed(jnp.asarray(hissed), band))) > 0.999
    assert float(np.asarray(embed(jnp.asarray(clip))) @ np.asarray(embed(jnp.asarray(hissed)))) < 0.98


def test_the_campplus_term_moves_the_style_toward_the_target_voice():
    """With no envelope targets and no GE2E term, the CAM++ term alone pulls: the window's CAM++ similarity to a
    speaker's embedding rises and is reported; without a target nothing moves."""
    from scipy.signal import resample_poly

    from voicekit import campplus_jax

    frames = 8
    graph = linear_voice(frames)
    weights = campplus_weights()
    inverter = si.StyleInverter(graph, np.ones((1, 128), np.float32), frames=frames, steps=6, learning_rate=0.3,
                                pull=0.0, fixed={}, campplus_weight=4.0, campplus_encoder=weights)
    start = np.random.default_rng(9).normal(0, 1, (1, 256)).astype(np.float32)
    samples, rate = read_ge2e_clip("flite_rms_fox.wav")
    target = numpy_campplus(resample_poly(np.asarray(samples, np.float32), 24000, rate).astype(np.float32), weights)
    zeros = np.zeros((inverter.cepstral_frames, si.CEPSTRA), np.float32)
    problem = si.FitProblem(start, {}, si.mel_matrix(7600.0), zeros, np.zeros(inverter.cepstral_frames, np.float32),
                            campplus=target)
    found = inverter.descend(problem)
    assert found.speaker_start is None                       # no GE2E term
    assert found.campplus_start is not None and found.campplus_end > found.campplus_start + 0.01
    assert found.report()["campplusEnd"] == round(found.campplus_end, 4)
    embed = jax.jit(campplus_jax.embedder(weights, frames * si.FRAME, si.SAMPLE_RATE))
    fitted = np.concatenate([start[:, :128] + found.offset, start[:, 128:]], axis=1)
    assert float(np.asarray(embed(graph.audio(fitted, {}).reshape(-1))) @ target) == pytest.approx(
        found.campplus_end, abs=1e-3)
    problem.campplus = None
    assert not inverter.descend(problem).offset.any()        # nothing pulls: no move
