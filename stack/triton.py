"""NVIDIA Triton Inference Server 2.51, the binary inside the nvidia-pytriton wheel (Python backend only).

Its venv (<stack_dir>/venvs/triton) is the models' environment: numpy<2 (numpy 2 makes Triton 2.51 return empty
outputs silently) plus triton_models/requirements.txt, then triton_models/requirements-nodeps.txt with --no-deps
(packages wanted only for their data files, e.g. the speaker encoder's weights), each reinstalled when it changes.
The Python backend stub finds that venv because its bin/ comes first on PATH. Model repository:
<repo>/triton_models; while it does not exist an empty one under the stack dir is served. STACK_TRITON_MODEL_REPO
overrides it (for testing the stack).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from . import kokoro_assets
from .base import Context, Service, http_status
from .install import file_digest
from .process import Proc, StackError, say, tail_file
from .venvs import ensure_venv_packages, site_packages

PACKAGES = ["nvidia-pytriton==0.7.0", "numpy<2"]


def _venv(ctx: Context) -> Path:
    return ctx.venvs / "triton"


def _requirements(ctx: Context) -> Path:
    return ctx.repo_root / "triton_models" / "requirements.txt"


def _requirements_nodeps(ctx: Context) -> Path:
    return ctx.repo_root / "triton_models" / "requirements-nodeps.txt"


def _pytriton(ctx: Context) -> Path:
    return site_packages(_venv(ctx)) / "pytriton"


def model_repository(ctx: Context) -> Path:
    override = os.environ.get("STACK_TRITON_MODEL_REPO")
    if override:
        return Path(override).resolve()
    repo = ctx.repo_root / "triton_models"
    if repo.is_dir():
        return repo
    return ctx.stack_dir / "triton" / "empty-model-repository"


def install(ctx: Context) -> bool:
    binary = _pytriton(ctx) / "tritonserver" / "bin" / "tritonserver"
    first = not binary.exists()
    log = ctx.log("install-triton")
    ensure_venv_packages("triton", _venv(ctx), PACKAGES, ctx.markers, "venv-triton", log,
                         requirement_files=[_requirements(ctx)])
    nodeps = _requirements_nodeps(ctx)
    if nodeps.exists():  # without their dependencies (resemblyzer's would pull torch and librosa)
        ensure_venv_packages("triton", _venv(ctx), ["--no-deps"], ctx.markers, "venv-triton-nodeps", log,
                             requirement_files=[nodeps])
    if not binary.exists():
        raise StackError("triton", f"nvidia-pytriton installed but {binary} is missing", log)
    kokoro_assets.ensure(ctx.stack_dir, site_packages(_venv(ctx)), ctx.markers, log)  # model + voices, sha256
    if _config_name() == "gpu":  # onnxruntime-gpu replaces onnxruntime (same module name)
        kokoro_assets.ensure_gpu_runtime(_venv(ctx), ctx.repo_root / "triton_models" / "requirements-gpu.txt",
                                         ctx.markers, log)
    info = _python_info_file(ctx)
    if first or not info.exists():
        # The stub must match the models' Python, and tritonserver must find that Python's libpython.
        out = subprocess.run([str(_venv(ctx) / "bin" / "python"), "-c",
                              "import sys, sysconfig; print(f'{sys.version_info[0]}.{sys.version_info[1]}');"
                              "print(sysconfig.get_config_var('LIBDIR'))"], capture_output=True, text=True)
        if out.returncode != 0:
            raise StackError("triton", f"cannot query the triton venv's python: {out.stderr.strip()}")
        info.parent.mkdir(parents=True, exist_ok=True)
        info.write_text(out.stdout)
    return first


def _config_name() -> str:
    """VOICEKIT_TRITON_CONFIG: the model configuration variant (``gpu``: configs/gpu.pbtxt where a model has one)."""
    return os.environ.get("VOICEKIT_TRITON_CONFIG", "").strip()


def _python_info_file(ctx: Context) -> Path:
    return ctx.stack_dir / "triton" / "python-info"


def _python_info(ctx: Context) -> tuple[str, str]:
    try:
        version, libdir = _python_info_file(ctx).read_text().split()
        return version, libdir
    except (OSError, ValueError):
        import sysconfig

        return f"{sys.version_info.major}.{sys.version_info.minor}", str(sysconfig.get_config_var("LIBDIR"))


def _backends(ctx: Context) -> Path:
    return ctx.stack_dir / "triton" / "backends"


def prepare(ctx: Context) -> None:
    server = _pytriton(ctx) / "tritonserver"
    version, _ = _python_info(ctx)
    python_dir = _backends(ctx) / "python"
    python_dir.mkdir(parents=True, exist_ok=True)
    links = {
        "libtriton_python.so": server / "backends" / "python" / "libtriton_python.so",
        "triton_python_backend_utils.py": server / "backends" / "python" / "triton_python_backend_utils.py",
        "triton_python_backend_stub": server / "python_backend_stubs" / version / "triton_python_backend_stub",
    }
    for name, target in links.items():
        if not target.exists():
            raise StackError("triton", f"{target} missing from the nvidia-pytriton wheel")
        link = python_dir / name
        if link.is_symlink() and os.readlink(link) == str(target):
            continue
        link.unlink(missing_ok=True)
        link.symlink_to(target)
    repo = model_repository(ctx)
    repo.mkdir(parents=True, exist_ok=True)
    if repo.parent == ctx.stack_dir / "triton":
        say("triton", f"{ctx.repo_root / 'triton_models'} does not exist yet; serving an empty model repository")
    else:
        say("triton", f"model repository {repo}")


def procs(ctx: Context) -> list[Proc]:
    s = ctx.settings
    server = _pytriton(ctx) / "tritonserver"
    _, libdir = _python_info(ctx)
    env = dict(os.environ)
    env["PATH"] = f"{_venv(ctx) / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    env["LD_LIBRARY_PATH"] = ":".join(filter(None, [libdir, env.get("LD_LIBRARY_PATH")]))
    env.pop("PYTHONHOME", None)
    env.pop("PYTHONPATH", None)  # the stub must see the models' venv, not whatever started us
    env["VOICEKIT_KOKORO_DIR"] = str(kokoro_assets.assets_dir(ctx.stack_dir))  # the Kokoro model and voices
    # JAX (the style fit in the enroll stub) would take 75 % of a GPU's memory at its first use, leaving Kokoro's
    # ONNX Runtime sessions in the synthesize stubs without; allocating as it goes costs nothing on a CPU
    env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    argv = [
        str(server / "bin" / "tritonserver"),
        f"--model-repository={model_repository(ctx)}",
        f"--backend-directory={_backends(ctx)}",
        f"--cache-directory={server / 'caches'}",
        "--http-address=127.0.0.1", f"--http-port={s.triton_http_port}",
        "--grpc-address=127.0.0.1", f"--grpc-port={s.triton_grpc_port}",
        "--metrics-address=127.0.0.1", f"--metrics-port={s.triton_metrics_port}",
        "--model-control-mode=none",
        "--exit-on-error=true",  # a broken model fails `up` loudly (its error is in the log) instead of hiding
    ]
    config_name = _config_name()
    if config_name:  # e.g. "gpu": models with configs/gpu.pbtxt use it, the others their config.pbtxt
        argv.append(f"--model-config-name={config_name}")
    return [Proc("triton", argv, ctx.log("triton"), env=env, cwd=ctx.stack_dir / "triton",
                 match=["tritonserver", f"--backend-directory={_backends(ctx)}"],
                 # changed requirements: reinstall and restart
                 fingerprint=file_digest(_requirements(ctx)) + file_digest(_requirements_nodeps(ctx)))]


def healthy(ctx: Context) -> bool:
    return http_status(f"http://127.0.0.1:{ctx.settings.triton_http_port}/v2/health/ready") == 200


def ready(ctx: Context, service: Service, timeout: float) -> None:
    try:
        service.wait_healthy(ctx, timeout)
    except StackError as exc:
        failed = _failed_models(ctx.log("triton"))
        if failed:
            raise StackError("triton", "model(s) failed to load: " + "; ".join(failed), ctx.log("triton")) from exc
        raise


def _failed_models(log: Path) -> list[str]:
    lines = tail_file(log, 400)
    starts = [i for i, line in enumerate(lines) if line.startswith("===== ")]
    recent = lines[starts[-1]:] if starts else lines  # only this start's lines
    patterns = [re.compile(r"failed to load '([^']+)'[^:]*: (.*)$"),
                re.compile(r"Poll failed for model directory '([^']+)': (.*)$")]
    found: dict[str, str] = {}
    for line in recent:
        for pattern in patterns:
            match = pattern.search(line)
            if match:
                found[match.group(1)] = match.group(2).split("\\n")[0].rstrip('"')[:300]
    return [f"{model}: {why}" for model, why in found.items()]


SERVICE = Service(
    name="triton",
    procs=procs,
    healthy=healthy,
    ports=lambda s: (s.triton_http_port, s.triton_grpc_port, s.triton_metrics_port),
    install=install,
    prepare=prepare,
    ready=ready,
    start_timeout=300,  # real models may load weights for a while
    first_start_timeout=600,
)
