#!/usr/bin/env bash
# The style fit on a GPU machine (bench/gpu_style_fit.py "fit"; docs/voice-quality.md, "The style fit on a GPU"),
# from the repository root, after `bench.gpu_style_fit export --out gpufit --half` here:
#     bash bench/gpu_style_fit_device.sh gpufit OUT
# Needs python3 with jax (CUDA), numpy and onnx; nothing else of the project's environment.
set -uo pipefail
problems=${1:-gpufit}
out=${2:-${OUT:-/tmp/gpufit-out}}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2 PYTHONPATH="triton_models/voicekit:.${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee "$out/env.txt"
python3 -c 'import jax, numpy, onnx; print("jax", jax.__version__, jax.devices(), "numpy", numpy.__version__,
"onnx", onnx.__version__, "cpus", __import__("os").cpu_count())' 2>&1 | tee -a "$out/env.txt"
python3 -c 'import onnxruntime as o; print("onnxruntime", o.__version__, o.get_available_providers())' 2>&1 \
    | tee -a "$out/env.txt"
python3 -m bench.gpu_style_fit fit --problems "$problems" --out "$out" \
    --settings "${SETTINGS:-120:6:0.2,240:40:0.1,120:40:0.1}" 2>&1 | tee "$out/fit.log"
# the shipped setting on this machine's CPU for one speaker: the step's CPU / GPU ratio on one machine
JAX_PLATFORMS=cpu timeout "${CPU_CHECK_S:-120}" python3 -m bench.gpu_style_fit fit --problems "$problems" \
    --out "$out/cpu" --settings 120:6:0.2 --speakers "${CPU_SPEAKER:-asterisk-en-allison}" 2>&1 | tee "$out/cpu.log"
