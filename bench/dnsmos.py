"""DNSMOS P.835 (SIG, BAK, OVRL) and P.808 MOS, offline, from the ONNX models in the ``speechmos`` wheel.

``speechmos==0.0.1.1`` ships Microsoft's DNSMOS models (``dnsmos_models/sig_bak_ovr.onnx``, ``model_v8.onnx``;
MIT licence) inside the wheel, so nothing is downloaded. Its own code imports librosa (for P.808's mel
spectrogram) and ``requests`` at module level; librosa would pull numba/scipy into the project venv, so this
module loads the same ONNX files with onnxruntime and computes the P.808 features with numpy — the same
computation as ``speechmos.dnsmos.DNSMOS.__call__``: 9.01 s segments every 1 s (short clips are repeated to fill
one), the P.835 model on raw audio with its polynomial calibration, P.808 on a 120-band Slaney mel spectrogram
(n_fft 321, hop 160, dB re. max, (dB + 40) / 40). If librosa *is* importable, ``speechmos`` itself is used.

Install: ``pip install --no-deps speechmos==0.0.1.1 onnxruntime`` (the project's ``test`` extra has both).
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

SR = 16000
INPUT_LENGTH = 9.01

_sessions = None


def available() -> str | None:
    """None if DNSMOS can run here, else why not."""
    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed"
    if _models_dir() is None:
        return "speechmos (its ONNX models) is not installed"
    return None


def _models_dir() -> Path | None:
    spec = importlib.util.find_spec("speechmos")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "dnsmos_models"
    return folder if (folder / "sig_bak_ovr.onnx").is_file() else None


def _load():
    global _sessions
    if _sessions is None:
        import onnxruntime as ort

        folder = _models_dir()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        _sessions = (ort.InferenceSession(str(folder / "sig_bak_ovr.onnx"), options,
                                          providers=["CPUExecutionProvider"]),
                     ort.InferenceSession(str(folder / "model_v8.onnx"), options,
                                          providers=["CPUExecutionProvider"]))
    return _sessions


def _hz_to_mel(f):
    f = np.asarray(f, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-9) / min_log_hz) / logstep, f / f_sp)


def _mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def _mel_basis(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    fft_freqs = np.fft.rfftfreq(n_fft, d=1.0 / sr)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2.0), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    weights = np.zeros((n_mels, len(fft_freqs)))
    for i in range(n_mels):
        weights[i] = np.maximum(0, np.minimum(-ramps[i] / fdiff[i], ramps[i + 2] / fdiff[i + 1]))
    weights *= (2.0 / (mel_f[2: n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)


def p808_features(audio: np.ndarray, n_fft: int = 321, hop: int = 160, n_mels: int = 120) -> np.ndarray:
    """``(librosa.power_to_db(melspectrogram(audio, sr=16000, n_fft=321, hop_length=160, n_mels=120), ref=np.max)
    + 40) / 40``, transposed (frames × 120)."""
    x = np.asarray(audio, dtype=np.float32)
    padded = np.pad(x, (n_fft // 2, n_fft // 2), mode="constant")
    count = 1 + (len(padded) - n_fft) // hop
    frames = padded[np.arange(count)[:, None] * hop + np.arange(n_fft)[None, :]]
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    mel = power @ _mel_basis(SR, n_fft, n_mels).T
    db = 10.0 * np.log10(np.maximum(mel, 1e-10))
    db -= 10.0 * np.log10(max(1e-10, float(mel.max())))
    db = np.maximum(db, db.max() - 80.0)
    return ((db + 40.0) / 40.0).astype(np.float32)


def _poly(sig, bak, ovr):
    return (np.poly1d([-0.08397278, 1.22083953, 0.0052439])(sig),
            np.poly1d([-0.13166888, 1.60915514, -0.39604546])(bak),
            np.poly1d([-0.06766283, 1.11546468, 0.04602535])(ovr))


def score(audio: np.ndarray, sample_rate: int = SR) -> dict[str, float]:
    """{"ovrl", "sig", "bak", "p808"} for mono float audio at 16 kHz (in [-1, 1])."""
    if sample_rate != SR:
        raise ValueError("DNSMOS needs 16 kHz audio")
    audio = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    primary, p808 = _load()
    length = int(INPUT_LENGTH * SR)
    while len(audio) < length:
        audio = np.append(audio, audio)
    hops = int(np.floor(len(audio) / SR) - INPUT_LENGTH) + 1
    sig, bak, ovr, mos = [], [], [], []
    for index in range(hops):
        segment = audio[index * SR: index * SR + length]
        if len(segment) < length:
            continue
        raw = primary.run(None, {"input_1": segment[None, :].astype(np.float32)})[0][0]
        s, b, o = _poly(*raw)
        sig.append(s)
        bak.append(b)
        ovr.append(o)
        mos.append(p808.run(None, {"input_1": p808_features(segment[:-160])[None, :, :]})[0][0][0])
    return {"ovrl": float(np.mean(ovr)), "sig": float(np.mean(sig)), "bak": float(np.mean(bak)),
            "p808": float(np.mean(mos))}


if __name__ == "__main__":  # parity check against speechmos itself where librosa exists
    import soundfile

    samples, rate = soundfile.read(sys.argv[1], dtype="float32")
    print(score(samples, rate))
