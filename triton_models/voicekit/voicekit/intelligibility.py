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
    samples = _at_rate(samples, rate)
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

    def word_errors(self, reference: str, samples: np.ndarray, rate: int = RATE) -> int:
        """How many of ``reference``'s words the recogniser got wrong (to pool over several utterances)."""
        return edit_distance(words(reference), words(self.transcribe(samples, rate)))


# The 39 phones of the bundled US-English model (CMUdict's set); a label is an index into this tuple + 1, 0 being
# silence, noise or nothing heard.
PHONES = ("AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY",
          "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y", "Z",
          "ZH")
_PHONE_ID = {name: i + 1 for i, name in enumerate(PHONES)}
_DECODER_FRAME_S, _DECODER_WINDOW_S = 0.010, 0.0256  # pocketsphinx's frames: 10 ms hop, 25.6 ms window
_MIN_SAMPLES = int(_DECODER_WINDOW_S * RATE)


class PhoneLabeller:
    """Which phone is heard when: pocketsphinx 5's all-phone decoder (its bundled phone language model, no
    dictionary), so it labels any speech, in any language, with the nearest US-English phones (0.041 s per second
    of audio, idle 2-core machine). Its default wide beams are needed: with narrow ones (beam 1e-8, tried in
    session 9) the search dies after a second or two and one phone runs on to the end of a long text. When the
    English words the audio says are known (synthesis knows its text), :meth:`label` aligns their dictionary phones
    to it instead: the phones are then the ones spoken, not the ones the search guessed (12 real speakers' clones:
    5 points less WER at the same similarity, docs/voice-quality.md "Aligned phone labels"). Calls are serialised
    (the decoders are not re-entrant)."""

    def __init__(self) -> None:
        import os

        from pocketsphinx import Decoder

        self.decoder = Decoder(samprate=RATE, loglevel="FATAL", lm=None, lw=2.0, beam=1e-20, pbeam=1e-20,
                               allphone=os.path.join(_model_dir(), "en-us-phone.lm.bin"))
        self._aligner = None  # a dictionary decoder for forced alignment, made on first use
        self._lock = threading.Lock()

    def label(self, samples: np.ndarray, rate: int, frames: int, frame_s: float,
              transcript: str | None = None) -> np.ndarray:
        """The phone label (uint8, see ``PHONES``) at each of ``frames`` frame centres ``i * frame_s``.
        ``transcript``: English text the audio says; its words' phones are aligned to the audio, and the all-phone
        search is the fallback when a word is not in the dictionary or the alignment fails."""
        samples = _at_rate(samples, rate)
        if len(samples) < _MIN_SAMPLES:  # shorter than one decoder frame: nothing to hear
            return np.zeros(frames, dtype=np.uint8)
        with self._lock:
            segments = self._aligned(samples, transcript) if transcript else None
            if segments is None:
                segments = [(_PHONE_ID.get(name, 0), start, end) for name, start, end in self._searched(samples)]
        return _frame_labels(segments, frames, frame_s)

    def phones(self, samples: np.ndarray, rate: int) -> list[tuple[str, int, int]]:
        """The all-phone search's segments of mono float audio: (name — one of ``PHONES``, or SIL and the noise
        fillers such as +NSN+ —, first decoder frame, last decoder frame; 10 ms frames), in order."""
        samples = _at_rate(samples, rate)
        if len(samples) < _MIN_SAMPLES:
            return []
        with self._lock:
            return self._searched(samples)

    def _searched(self, samples: np.ndarray) -> list[tuple[str, int, int]]:
        """The all-phone search over 16 kHz audio (the caller holds the lock)."""
        _decode(self.decoder, samples, RATE)
        return [(str(s.word), int(s.start_frame), int(s.end_frame)) for s in self.decoder.seg() or []]

    def _aligned(self, samples: np.ndarray, transcript: str) -> list[tuple[int, int, int]] | None:
        """(phone id, first decoder frame, last decoder frame) of ``transcript``'s phones aligned to the audio
        (two passes: words, then phones), or None."""
        spoken = words(transcript)
        if not spoken:
            return None
        if self._aligner is None:
            from pocketsphinx import Decoder

            self._aligner = Decoder(samprate=RATE, loglevel="FATAL", lm=None)
        try:
            self._aligner.set_align_text(" ".join(spoken))   # RuntimeError: a word not in the dictionary
            _decode(self._aligner, samples, RATE)
            self._aligner.set_alignment()
            _decode(self._aligner, samples, RATE)
            alignment = self._aligner.get_alignment()
            segments = [(_PHONE_ID.get(phone.name, 0), phone.start, phone.start + phone.duration - 1)
                        for word in (alignment or []) for phone in word]
        except RuntimeError:
            return None
        return segments if any(phone for phone, _, _ in segments) else None


def _model_dir() -> str:
    import os

    from pocketsphinx import get_model_path

    return os.path.join(get_model_path(), "en-us")


def _at_rate(samples: np.ndarray, rate: int) -> np.ndarray:
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    if rate != RATE:
        import soxr

        samples = soxr.resample(samples, rate, RATE)
    return samples


def _frame_labels(segments: list[tuple[int, int, int]], frames: int, frame_s: float) -> np.ndarray:
    """Decoder segments (phone id, first frame, last frame; 10 ms frames) → the label at ``i * frame_s``."""
    decoded = np.zeros(max([end for _, _, end in segments], default=-1) + 1, dtype=np.uint8)
    for phone, start, end in segments:
        decoded[start:end + 1] = phone
    # decoder frame j is centred at j * 10 ms + 12.8 ms
    index = np.round((np.arange(frames) * frame_s - _DECODER_WINDOW_S / 2) / _DECODER_FRAME_S).astype(np.int64)
    inside = (index >= 0) & (index < len(decoded))
    out = np.zeros(frames, dtype=np.uint8)
    out[inside] = decoded[index[inside]]
    return out


_labeller: PhoneLabeller | None = None
_labeller_lock = threading.Lock()


def shared_labeller() -> PhoneLabeller:
    """One labeller per process, made on first use (loading the acoustic model takes ≈ 0.3 s)."""
    global _labeller
    with _labeller_lock:
        if _labeller is None:
            _labeller = PhoneLabeller()
        return _labeller
