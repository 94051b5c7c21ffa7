"""How intelligible synthetic speech is: the word error rate of an English recogniser on a text we know.

pocketsphinx 5 with the US-English acoustic model, language model and dictionary bundled in its wheel (no download);
16 kHz input. Used by enrolment (``kokoro_enrol``: a clone the recogniser cannot follow is not kept when an
intelligible candidate was found) and by the quality benchmarks (``bench/voice_quality*.py``), so both score
intelligibility the same way.
"""
from __future__ import annotations

import re
import threading

import numpy as np

RATE = 16000


def words(text: str) -> list[str]:
    """Lower-case words without punctuation: what the recogniser's output is compared on."""
    return re.sub(r"[^a-z' ]+", " ", text.lower()).split()


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Word-level Levenshtein distance (substitutions, insertions, deletions)."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[-1]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word errors / reference words (0 for an empty reference)."""
    expected = words(reference)
    return edit_distance(expected, words(hypothesis)) / len(expected) if expected else 0.0


def _decode(decoder, samples: np.ndarray, rate: int) -> None:
    """One utterance through a pocketsphinx decoder: mono float audio in [-1, 1], resampled to 16 kHz."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    if rate != RATE:
        import soxr

        samples = soxr.resample(samples, rate, RATE)
    decoder.start_utt()
    decoder.process_raw(np.round(np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes(), full_utt=True)
    decoder.end_utt()


class Recogniser:
    """pocketsphinx 5 with its bundled US-English models. One decoder: calls are serialised (it is not re-entrant)."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self.decoder = Decoder(samprate=RATE, loglevel="FATAL")
        self._lock = threading.Lock()

    def transcribe(self, samples: np.ndarray, rate: int = RATE) -> str:
        """The words heard in mono float audio in [-1, 1] at ``rate`` (resampled to 16 kHz when it differs)."""
        with self._lock:
            _decode(self.decoder, samples, rate)
            hyp = self.decoder.hyp()
        return hyp.hypstr if hyp is not None else ""

    def word_error_rate(self, reference: str, samples: np.ndarray, rate: int = RATE) -> float:
        return word_error_rate(reference, self.transcribe(samples, rate))


# The 39 phones of the bundled US-English model (CMUdict's set); a label is an index into this tuple + 1, 0 being
# silence, noise or nothing heard.
PHONES = ("AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY",
          "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y", "Z",
          "ZH")
_PHONE_ID = {name: i + 1 for i, name in enumerate(PHONES)}
_DECODER_FRAME_S, _DECODER_WINDOW_S = 0.010, 0.0256  # pocketsphinx's frames: 10 ms hop, 25.6 ms window


class PhoneLabeller:
    """Which phone is heard when: pocketsphinx 5's all-phone decoder (its bundled phone language model, no
    dictionary), so it labels any speech, in any language, with the nearest US-English phones. ``fast``: narrower
    beams and the 2 best Gaussians (0.021 s per second of audio against 0.041 for the full search, idle 2-core
    machine; the clones it labels score alike, docs/voice-quality.md). Calls are serialised (the decoder is not
    re-entrant)."""

    def __init__(self, fast: bool = False) -> None:
        import os

        from pocketsphinx import Decoder, get_model_path

        search = {"beam": 1e-8, "pbeam": 1e-8, "topn": 2} if fast else {"beam": 1e-20, "pbeam": 1e-20}
        self.decoder = Decoder(samprate=RATE, loglevel="FATAL", lm=None, lw=2.0,
                               allphone=os.path.join(get_model_path(), "en-us", "en-us-phone.lm.bin"), **search)
        self._lock = threading.Lock()

    def label(self, samples: np.ndarray, rate: int, frames: int, frame_s: float) -> np.ndarray:
        """The phone label (uint8, see ``PHONES``) at each of ``frames`` frame centres ``i * frame_s``."""
        with self._lock:
            _decode(self.decoder, samples, rate)
            segments = [(_PHONE_ID.get(s.word, 0), s.start_frame, s.end_frame) for s in self.decoder.seg()]
        decoded = np.zeros(max([end for _, _, end in segments], default=-1) + 1, dtype=np.uint8)
        for phone, start, end in segments:
            decoded[start:end + 1] = phone
        # decoder frame j is centred at j * 10 ms + 12.8 ms
        index = np.round((np.arange(frames) * frame_s - _DECODER_WINDOW_S / 2) / _DECODER_FRAME_S).astype(np.int64)
        inside = (index >= 0) & (index < len(decoded))
        out = np.zeros(frames, dtype=np.uint8)
        out[inside] = decoded[index[inside]]
        return out


_labellers: dict[bool, PhoneLabeller] = {}
_labellers_lock = threading.Lock()


def shared_labeller(fast: bool = False) -> PhoneLabeller:
    """One labeller of each kind per process, made on first use (loading the acoustic model takes ≈ 0.3 s)."""
    with _labellers_lock:
        if fast not in _labellers:
            _labellers[fast] = PhoneLabeller(fast)
        return _labellers[fast]
