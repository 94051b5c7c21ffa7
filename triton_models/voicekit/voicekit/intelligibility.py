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


class Recogniser:
    """pocketsphinx 5 with its bundled US-English models. One decoder: calls are serialised (it is not re-entrant)."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self.decoder = Decoder(samprate=RATE, loglevel="FATAL")
        self._lock = threading.Lock()

    def transcribe(self, samples: np.ndarray, rate: int = RATE) -> str:
        """The words heard in mono float audio in [-1, 1] at ``rate`` (resampled to 16 kHz when it differs)."""
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        if rate != RATE:
            import soxr

            samples = soxr.resample(samples, rate, RATE)
        pcm = np.round(np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
        with self._lock:
            self.decoder.start_utt()
            self.decoder.process_raw(pcm, full_utt=True)
            self.decoder.end_utt()
            hyp = self.decoder.hyp()
        return hyp.hypstr if hyp is not None else ""

    def word_error_rate(self, reference: str, samples: np.ndarray, rate: int = RATE) -> float:
        return word_error_rate(reference, self.transcribe(samples, rate))
