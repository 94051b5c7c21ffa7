"""Kokoro-82M v1.0 (int8 ONNX) text-to-speech: phonemes → tokens → style row → ONNX Runtime → 24 kHz audio.

No Triton imports: the ``synthesize`` model, tests, benchmarks and enrolment code use this directly.

- Assets (``VOICEKIT_KOKORO_DIR``, default ``<repo>/.stack/kokoro``, installed and sha256-checked by
  ``stack/kokoro_assets.py``): ``kokoro-v1.0.int8.onnx``, ``vocab.json`` (phoneme symbol → token id) and
  ``voices/<name>.bin`` (54 stock voices, raw float32 [510, 256]).
- A voice is a *style pack*: float32 [510, 256], one 256-d style per input length (row = number of phoneme tokens
  - 1); the first 128 dims drive the decoder (timbre), the last 128 the prosody predictor.
- The network takes ``tokens`` int64 [1, N+2] (0 at both ends, N ≤ 510), ``style`` float32 [1, 256] and
  ``speed`` float32 [1] (durations divided by it; pitch unchanged).

``KokoroEngine.speak`` does a whole request: sentences → phonemes (``voicekit.g2p``) → pieces of ≤ 510 tokens →
audio, joined with pauses and fades (``voicekit.pcm.join_segments``); speeds the model handles badly (outside
0.5-2) and exact durations are finished by WSOLA (``voicekit.stretch``), pitch unchanged.
"""
from __future__ import annotations

import json
import os
import re
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .errors import VoicekitError
from .g2p import G2P, LANGUAGES
from .pcm import join_segments
from .stretch import wsola
from .text import split_sentences

SAMPLE_RATE = 24000
STYLE_ROWS = 510
STYLE_DIM = 256
MAX_TOKENS = 510  # phoneme tokens per inference (the model's context is 512 with the two pads)
# The model files, all made at install time from the PyPI int8 model (stack/kokoro_graph.py): its convolutions
# rewritten as float 2-D ones (a sentence costs ≈ 20 % less CPU, docs/inference.md "Kokoro's convolutions"; what the
# style fit differentiates and a GPU runs), and that model with 24 of its generator's convolutions in int8 (≈ 20 %
# less time again on CPU, the same speech within GE2E cosine 0.999: docs/inference.md "Part of the generator in
# int8"), what synthesis runs on CPU. The int8 model itself when neither is there or VOICEKIT_KOKORO_MODEL names it.
MODEL_FILE = "kokoro-v1.0.float-conv.onnx"
CPU_MODEL_FILE = "kokoro-v1.0.qdq-generator.onnx"
INT8_MODEL_FILE = "kokoro-v1.0.int8.onnx"
PITCH_INPUT = "pitch"  # [1] float, the predicted F0's scale (an input of the install-time graph, default 1)
MODEL_SPEED_RANGE = (0.5, 2.0)  # beyond this the model's own speed input slurs or drags; WSOLA does the rest
SENTENCE_GAP_S = 0.25
EDGE_S = 0.1  # silence before and after the speech

# Stock voice names: <language letter><f|m>_<name> (Kokoro v1.0's convention)
LANGUAGE_OF_PREFIX = {"a": "en-us", "b": "en-gb", "e": "es", "f": "fr", "h": "hi", "i": "it", "j": "ja",
                      "p": "pt-br", "z": "zh"}
LANGUAGE_NAMES = {"en-us": "American English", "en-gb": "British English", "es": "Spanish", "fr": "French",
                  "hi": "Hindi", "it": "Italian", "ja": "Japanese", "pt-br": "Brazilian Portuguese",
                  "zh": "Mandarin Chinese"}
_VOICE_NAME = re.compile(r"^([abefhijpz])([fm])_[a-z]+$")


@dataclass(frozen=True)
class StockVoice:
    name: str
    language: str
    gender: str  # "female" | "male"

    @property
    def description(self) -> str:
        return f"{LANGUAGE_NAMES[self.language]}, {self.gender} (Kokoro-82M {self.name})"


def stock_voice(name: str) -> StockVoice | None:
    """``af_heart`` → StockVoice("af_heart", "en-us", "female"); None for a name outside the convention."""
    match = _VOICE_NAME.match(name or "")
    if not match:
        return None
    return StockVoice(name, LANGUAGE_OF_PREFIX[match.group(1)], "female" if match.group(2) == "f" else "male")


def assets_dir() -> Path:
    configured = os.environ.get("VOICEKIT_KOKORO_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / ".stack" / "kokoro"  # <repo>/.stack/kokoro


def model_path(directory: Path, file_name: str | None = None, gpu: bool = False) -> Path:
    """The ONNX file to run: ``file_name`` or ``$VOICEKIT_KOKORO_MODEL`` (a file name in ``directory``) if given,
    else the first there of the partly int8 model (CPU only: a GPU has no use for its int8 kernels), the
    float-convolution model and the int8 one."""
    chosen = (file_name or os.environ.get("VOICEKIT_KOKORO_MODEL", "")).strip()
    if chosen:
        return directory / Path(chosen).name
    preferred = [MODEL_FILE] if gpu else [CPU_MODEL_FILE, MODEL_FILE]
    return next((directory / name for name in preferred if (directory / name).exists()), directory / INT8_MODEL_FILE)


# ---------------------------------------------------------------------------------------------------- pure pieces

def load_vocab(path: Path) -> dict[str, int]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return dict(data.get("vocab", data))


def tokenize(phonemes: str, vocab: dict[str, int]) -> list[int]:
    """Phoneme string → token ids; symbols outside the vocabulary are dropped (as Kokoro's own pipeline does)."""
    return [vocab[symbol] for symbol in phonemes if symbol in vocab]


def style_pack(data: bytes | np.ndarray) -> np.ndarray:
    """A voice's style pack as float32 [510, 256] from raw bytes (a ``voices/*.bin``) or an array shaped
    [510, 256], [510, 1, 256] or [1, 256] / [256] (one style for every length). Raises ``invalid_style``."""
    array = np.frombuffer(data, dtype="<f4") if isinstance(data, (bytes, bytearray, memoryview)) else np.asarray(data)
    array = np.asarray(array, dtype=np.float32)
    if array.size == STYLE_DIM:
        array = np.repeat(array.reshape(1, STYLE_DIM), STYLE_ROWS, axis=0)
    if array.size != STYLE_ROWS * STYLE_DIM:
        raise VoicekitError("invalid_style", f"a style pack holds {STYLE_ROWS}x{STYLE_DIM} float32 values "
                                             f"(or one style of {STYLE_DIM}); got {array.size} values")
    array = array.reshape(STYLE_ROWS, STYLE_DIM)
    if not np.isfinite(array).all() or float(np.abs(array).max()) > 100.0:
        raise VoicekitError("invalid_style", "the style pack holds NaN, infinite or absurdly large values")
    return np.ascontiguousarray(array)


def style_row(pack: np.ndarray, token_count: int) -> np.ndarray:
    """The style for an input of ``token_count`` phoneme tokens: row ``token_count - 1`` (clamped), as [1, 256]."""
    row = min(max(int(token_count), 1), len(pack)) - 1
    return np.ascontiguousarray(pack[row].reshape(1, STYLE_DIM), dtype=np.float32)


def split_phonemes(phonemes: str, vocab: dict[str, int], max_tokens: int = MAX_TOKENS) -> list[str]:
    """Cut a phoneme string into pieces of at most ``max_tokens`` tokens: after punctuation where possible, then
    at spaces, then anywhere."""
    pieces: list[str] = []
    rest = phonemes.strip()
    while len(tokenize(rest, vocab)) > max_tokens:
        limit = _prefix_chars(rest, vocab, max_tokens)
        window = rest[:limit]
        cut = max(window.rfind(mark) for mark in ",.!?;:—…")
        if cut < limit // 3:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = limit - 1
        pieces.append(rest[: cut + 1].strip())
        rest = rest[cut + 1:].strip()
    if rest:
        pieces.append(rest)
    return [piece for piece in pieces if any(s in vocab and s not in _SILENT for s in piece)]


_SILENT = set(' ;:,.!?—…"()“”')  # punctuation and spaces: a piece of only these has nothing to say


def _prefix_chars(text: str, vocab: dict[str, int], max_tokens: int) -> int:
    """Length of the longest prefix of ``text`` holding at most ``max_tokens`` tokens."""
    count = 0
    for index, symbol in enumerate(text):
        if symbol in vocab:
            count += 1
            if count > max_tokens:
                return index
    return len(text)


_CJK_SENTENCE = re.compile(r"(?<=[。！？!?…])|(?<=[.;；।])(?=\s)")


def sentences(text: str, language: str) -> list[str]:
    """Sentences to synthesise one at a time: the flite path's splitter for space-separated scripts; after
    ``。！？`` (and ``।``) for Chinese, Japanese and Hindi."""
    if language in ("zh", "ja", "hi"):
        return [piece.strip() for piece in _CJK_SENTENCE.split(text) if piece.strip()]
    return split_sentences(re.sub(r"\s+", " ", text).strip())


def model_speed(speed: float) -> tuple[float, float]:
    """Split a requested speed into (the model's speed input, the rest as a WSOLA stretch factor)."""
    lo, hi = MODEL_SPEED_RANGE
    inner = min(max(speed, lo), hi)
    return inner, inner / speed


# ---------------------------------------------------------------------------------------------------- the engine

def env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    return default if not value else value not in ("0", "false", "no", "off")


def session_options(ort, threads: int | None = None):
    """ONNX Runtime settings for the Kokoro session (measured in docs/inference.md, "Kokoro on 2 cores"):
    ``VOICEKIT_KOKORO_THREADS`` intra-op threads (default 2: with the float-convolution model a one-sentence request
    on 2 idle cores took 0.38-0.48 s per second of audio with 2 threads, 0.58-0.66 with 1; the second thread costs
    +6-12 % CPU, and on a machine already saturated it no longer shortens requests — set 1 there) and no
    spin-waiting of idle pool threads (``VOICEKIT_KOKORO_SPIN=1`` turns it back on): a spinning thread burns the
    core another sentence or request needs. Neither setting changes a sample."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or int(os.environ.get("VOICEKIT_KOKORO_THREADS", "2"))
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    spin = "1" if env_flag("VOICEKIT_KOKORO_SPIN", False) else "0"
    options.add_session_config_entry("session.intra_op.allow_spinning", spin)
    options.add_session_config_entry("session.inter_op.allow_spinning", spin)
    return options


class LruCache:
    """A small thread-safe least-recently-used map (e.g. a cloned voice's style pack by its recipe)."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key, make: Callable[[], object]):
        """The value for ``key``, made by ``make()`` on a miss (outside the lock: a slow ``make`` blocks no
        other key; two racing misses of one key both make it, the first stays)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            self.misses += 1
        value = make()
        with self._lock:
            value = self._items.setdefault(key, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)


class KokoroEngine:
    """One ONNX Runtime session plus the vocabulary, the stock voices and the G2P. Thread-safe for ``speak``."""

    pitch_input = False   # whether the graph has the ``pitch`` input (set from the session in ``__init__``)

    def __init__(self, directory: str | os.PathLike | None = None, threads: int | None = None,
                 providers: Sequence[str] | None = None, g2p: G2P | None = None,
                 workers: int | None = None, model_file: str | None = None) -> None:
        self.directory = Path(directory) if directory else assets_dir()
        gpu = any((p[0] if isinstance(p, tuple) else p) == "CUDAExecutionProvider" for p in providers or [])
        model = model_path(self.directory, model_file, gpu)
        if not model.exists():
            raise VoicekitError("tts_unavailable", f"the Kokoro model is missing ({model}); run "
                                                   "`python -m stack up triton` to install it",
                                invalid_input=False)
        import onnxruntime as ort  # imported here so the pure helpers above need no onnxruntime

        self.options = options = session_options(ort, threads)
        if gpu:
            preload = getattr(ort, "preload_dlls", None)  # onnxruntime-gpu >= 1.21: CUDA/cuDNN from pip packages
            if preload is not None:
                preload()
        available = ort.get_available_providers()
        wanted = list(providers or ["CPUExecutionProvider"])  # names or (name, options) pairs
        chosen = [p for p in wanted if (p[0] if isinstance(p, tuple) else p) in available]
        self.session = ort.InferenceSession(str(model), sess_options=options,
                                            providers=chosen or ["CPUExecutionProvider"])
        self.providers = self.session.get_providers()  # what ONNX Runtime actually uses
        # the install-time graph has a `pitch` input scaling the predicted F0 (stack/kokoro_graph.py); the int8
        # model, when named instead, has none and speaks at the style's own pitch (an input with a default is an
        # "overridable initializer" to ONNX Runtime, not one of its inputs)
        self.pitch_input = any(i.name == PITCH_INPUT for i in (*self.session.get_inputs(),
                                                                *self.session.get_overridable_initializers()))
        self.model_file = model.name
        self.vocab = load_vocab(self.directory / "vocab.json")
        self.voices = {path.stem: stock_voice(path.stem) for path in sorted((self.directory / "voices").glob("*.bin"))
                       if stock_voice(path.stem) is not None}
        # Sentences of one request run in parallel (ONNX Runtime releases the GIL): cheaper per second of audio
        # than more intra-op threads on one sentence (docs/inference.md, "Kokoro ... threads").
        self.workers = max(1, workers or int(os.environ.get("VOICEKIT_KOKORO_WORKERS", "2")))
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="kokoro")
        self._packs: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        self.g2p = g2p or G2P()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def voice_pack(self, name: str) -> np.ndarray:
        """A stock voice's style pack [510, 256] (read once, cached)."""
        if name not in self.voices:
            raise VoicekitError("unknown_voice", f"voice {name[:64]!r} is not a Kokoro voice")
        with self._lock:
            pack = self._packs.get(name)
            if pack is None:
                pack = self._packs[name] = style_pack((self.directory / "voices" / f"{name}.bin").read_bytes())
        return pack

    def infer(self, tokens: Sequence[int], pack: np.ndarray, speed: float = 1.0, pitch: float = 1.0) -> np.ndarray:
        """One network call: ≤ 510 tokens → float32 audio at 24 kHz; ``pitch`` scales the predicted F0 (a clone's
        pitch match, ``kokoro_enrol.pitch_of``; 1: the style's own)."""
        if not tokens:
            return np.zeros(0, np.float32)
        if len(tokens) > MAX_TOKENS:
            raise VoicekitError("invalid_text", f"{len(tokens)} phoneme tokens in one piece; at most {MAX_TOKENS}")
        feeds = {"tokens": np.array([[0, *tokens, 0]], dtype=np.int64), "style": style_row(pack, len(tokens)),
                 "speed": np.array([speed], dtype=np.float32)}
        if self.pitch_input:
            feeds[PITCH_INPUT] = np.array([pitch], dtype=np.float32)
        audio = self.session.run(None, feeds)[0]
        return np.asarray(audio, dtype=np.float32).reshape(-1)

    def phoneme_pieces(self, text: str, language: str) -> list[str]:
        """Text → the phoneme strings that will each be one network call."""
        if language not in LANGUAGES:
            raise VoicekitError("unsupported_language", f"language {language!r} is not supported; supported: "
                                                        f"{', '.join(LANGUAGES)}")
        pieces: list[str] = []
        for sentence in sentences(text, language):
            pieces.extend(split_phonemes(self.g2p.phonemize(sentence, language), self.vocab))
        return pieces

    def speak(self, text: str, language: str, pack: np.ndarray, speed: float = 1.0,
              duration_s: float | None = None,
              check_duration: Callable[[float], None] | None = None, pitch: float = 1.0) -> np.ndarray:
        """A whole text → 24 kHz float32 audio: sentence by sentence, joined with pauses; ``speed`` (0.25-4) via
        the model's speed input (0.5-2) and WSOLA for the rest; ``duration_s`` (total seconds) fitted exactly by
        WSOLA after ``check_duration(natural_length_s)`` accepted it; ``pitch`` as :meth:`infer`'s. Raises
        ``invalid_text`` if nothing is speakable."""
        pieces = self.phoneme_pieces(text, language)
        if not pieces:
            raise VoicekitError("invalid_text", "text contains nothing to say in "
                                                f"{LANGUAGE_NAMES.get(language, language)}")
        inner, stretch = model_speed(speed)
        calls = [tokenize(piece, self.vocab) for piece in pieces]
        pool = getattr(self, "_pool", None)
        if pool is not None and len(calls) > 1:
            segments = list(pool.map(lambda tokens: self.infer(tokens, pack, inner, pitch), calls))
        else:
            segments = [self.infer(tokens, pack, inner, pitch) for tokens in calls]
        if abs(stretch - 1.0) > 1e-4:  # the part of the speed the model does not do well
            segments = [wsola(segment, SAMPLE_RATE, stretch) for segment in segments]
        # pauses scale with the speed like the speech; the 0.1 s edges do not (as on the flite path)
        audio = join_segments(segments, SAMPLE_RATE, gap_s=SENTENCE_GAP_S / speed, edge_s=EDGE_S)
        if duration_s:
            natural = len(audio) / SAMPLE_RATE
            if check_duration is not None:
                check_duration(natural)
            audio = wsola(audio, SAMPLE_RATE, duration_s * SAMPLE_RATE / max(len(audio), 1))
            audio = audio[: int(round(duration_s * SAMPLE_RATE))]
        peak = float(np.abs(audio).max()) if audio.size else 0.0
        if peak > 0.99:  # the network can overshoot on loud styles; never clip
            audio = audio * (0.99 / peak)
        return audio.astype(np.float32, copy=False)
