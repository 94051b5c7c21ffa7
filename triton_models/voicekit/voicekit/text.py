"""Text normalisation for English TTS and sentence chunking. Pure functions, no I/O.

``normalize_text`` turns written forms a synthesiser reads badly into words: numbers (cardinals, decimals,
negatives, ordinals, years, times), money (``$``, ``€``, ``£`` with optional scale words), percentages, common
abbreviations and titles, units after numbers, and symbols such as ``&``. What is left outside ASCII is folded
(``café`` → ``cafe``) or dropped. ``split_sentences`` / ``chunk_text`` cut the result at sentence boundaries so
long text is synthesised piece by piece.
"""
from __future__ import annotations

import re
import unicodedata

# ---------------------------------------------------------------------------------------------------------------
# Numbers

_ONES = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ["", "thousand", "million", "billion", "trillion", "quadrillion"]
_MAX_CARDINAL = 10 ** 18  # beyond this, read digit by digit

_ORDINAL_IRREGULAR = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth", "nine": "ninth",
    "twelve": "twelfth",
}


def _below_thousand(n: int) -> list[str]:
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [_ONES[hundreds], "hundred"]
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(_TENS[tens])
        if ones:
            words.append(_ONES[ones])
    elif rest or not words:
        words.append(_ONES[rest])
    return words


def digits_to_words(digits: str) -> str:
    """``"0071"`` → ``"zero zero seven one"``."""
    return " ".join(_ONES[int(d)] for d in digits if d.isdigit())


def number_to_words(n: int) -> str:
    """Cardinal number in words: ``1234`` → ``"one thousand two hundred thirty four"``."""
    if n < 0:
        return "minus " + number_to_words(-n)
    if n >= _MAX_CARDINAL:
        return digits_to_words(str(n))
    if n == 0:
        return "zero"
    groups: list[str] = []
    scale = 0
    while n:
        n, chunk = divmod(n, 1000)
        if chunk:
            part = _below_thousand(chunk)
            if _SCALES[scale]:
                part.append(_SCALES[scale])
            groups.insert(0, " ".join(part))
        scale += 1
    return " ".join(groups)


def ordinal_to_words(n: int) -> str:
    """``21`` → ``"twenty first"``."""
    words = number_to_words(n).split(" ")
    last = words[-1]
    if last in _ORDINAL_IRREGULAR:
        words[-1] = _ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def year_to_words(n: int) -> str:
    """How a four-digit year is said: ``1999`` → ``"nineteen ninety nine"``, ``2005`` → ``"two thousand five"``."""
    if 2000 <= n <= 2009 or not 1000 <= n <= 9999:
        return number_to_words(n)
    high, low = divmod(n, 100)
    if low == 0:
        return f"{number_to_words(high)} hundred"
    if low < 10:
        return f"{number_to_words(high)} oh {_ONES[low]}"
    return f"{number_to_words(high)} {number_to_words(low)}"


def _is_year_like(n: int) -> bool:
    return 1100 <= n <= 1999 or 2010 <= n <= 2099


def decimal_to_words(text: str) -> str:
    """``"3.14"`` → ``"three point one four"``; ``"-0.5"`` → ``"minus zero point five"``."""
    sign = ""
    if text.startswith("-"):
        sign, text = "minus ", text[1:]
    whole, _, frac = text.partition(".")
    words = number_to_words(int(whole or "0"))
    if frac:
        words += " point " + digits_to_words(frac)
    return sign + words


def _plain_number_to_words(token: str) -> str:
    """A bare number token (digits, optional sign and decimals, no grouping commas)."""
    negative = token.startswith("-")
    body = token[1:] if negative else token
    if "." in body:
        return decimal_to_words(token)
    if len(body) > 1 and body.startswith("0"):
        words = digits_to_words(body)  # 007, 0800: read as digits
    else:
        value = int(body)
        words = year_to_words(value) if (not negative and len(body) == 4 and _is_year_like(value)) \
            else number_to_words(value)
    return ("minus " + words) if negative else words


# ---------------------------------------------------------------------------------------------------------------
# Patterns

_GROUPED = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d,]*\d)")
_NUMBER = r"\d+(?:\.\d+)?"
_SCALE_WORDS = {"k": "thousand", "thousand": "thousand", "m": "million", "mn": "million", "million": "million",
                "b": "billion", "bn": "billion", "billion": "billion", "trillion": "trillion"}
_CURRENCY = re.compile(
    r"(?P<sym>[$€£])\s?(?P<num>" + _NUMBER + r")"
    r"(?:\s?(?P<scale>thousand|million|billion|trillion|bn|mn|[kKmMbB])\b)?"
)
_CURRENCY_NAMES = {  # symbol: (one, many, cent one, cents many)
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
}
_PERCENT = re.compile(r"(?P<num>-?" + _NUMBER + r")\s?%")
_TIME = re.compile(
    r"(?<![\d:])(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)(?!\d|:\d)(?:\s?(?P<ampm>[aApP])\.?[mM](?![A-Za-z]))?"
)
_ORDINAL = re.compile(r"(?<![\w.])(?P<num>\d+)(?P<suffix>st|nd|rd|th)\b", re.IGNORECASE)
_UNITS = {
    "km": ("kilometer", "kilometers"), "kg": ("kilogram", "kilograms"), "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"), "mg": ("milligram", "milligrams"), "ml": ("milliliter", "milliliters"),
    "lb": ("pound", "pounds"), "lbs": ("pound", "pounds"), "mph": ("mile per hour", "miles per hour"),
    "km/h": ("kilometer per hour", "kilometers per hour"), "kph": ("kilometer per hour", "kilometers per hour"),
    "ms": ("millisecond", "milliseconds"), "kb": ("kilobyte", "kilobytes"), "mb": ("megabyte", "megabytes"),
    "gb": ("gigabyte", "gigabytes"), "tb": ("terabyte", "terabytes"), "hz": ("hertz", "hertz"),
    "khz": ("kilohertz", "kilohertz"), "°c": ("degree Celsius", "degrees Celsius"), "¢": ("cent", "cents"),
    "°f": ("degree Fahrenheit", "degrees Fahrenheit"),
}
_UNIT = re.compile(
    r"(?P<num>-?" + _NUMBER + r")\s?(?P<unit>" + "|".join(sorted((re.escape(u) for u in _UNITS), key=len, reverse=True))
    + r")(?![\w/])",
    re.IGNORECASE,
)
_BARE_NUMBER = re.compile(r"(?<![\w.])-?" + _NUMBER + r"(?![\d])|(?<=[A-Za-z])\d+(?:\.\d+)?")
_NUMBER_SIGN = re.compile(r"#(?=\s?\d)")
# "the 1990s", "the '80s": the decade, plural ("nineteen nineties", "eighties")
# (two digits only after "the", "early", "mid", "late" or an apostrophe: "timeout 30s" is seconds)
_DECADE = re.compile(r"(?<![\w.])(?P<num>\d{2}\d0)'?s\b"
                     r"|(?:(?<=\bthe )|(?<=\bThe )|(?<=\bearly )|(?<=\bmid )|(?<=\bmid-)|(?<=\blate ))"
                     r"(?:'|\u2019)?(?P<short>\d0)'?s\b"
                     r"|(?<![\w.])(?:'|\u2019)(?P<quoted>\d0)s\b")
# "3-4 days", "pages 10–20": a range, said "to", when it rises and is not a code (no leading zero, no chain of dashes)
_RANGE = re.compile(r"(?<![\w./:\-\u2013])(?P<a>\d{1,4})(?:-|\s?\u2013\s?)(?P<b>[1-9]\d{0,3})(?![\w./:\-\u2013])")
# vulgar fractions, before NFKC turns "1½" into "11⁄2"
_FRACTIONS = {"½": "one half", "⅓": "one third", "⅔": "two thirds", "¼": "one quarter", "¾": "three quarters",
              "⅕": "one fifth", "⅖": "two fifths", "⅗": "three fifths", "⅘": "four fifths", "⅙": "one sixth",
              "⅚": "five sixths", "⅛": "one eighth", "⅜": "three eighths", "⅝": "five eighths", "⅞": "seven eighths"}
_FRACTION = re.compile(r"(?P<whole>\d)?\s?(?P<frac>[" + "".join(_FRACTIONS) + "])")
# e-mail addresses, web addresses and dotted version numbers: their periods are not sentence ends ("anna. smith at
# example. com" was read with two full stops)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_TLDS = "com|org|net|edu|gov|io|ai|co|uk|us|de|fr|es|it|eu|info|dev|app|me|tv|ly"
_WEB = re.compile(r"\b(?:https?://)?(?:www\.)?[\w-]+(?:\.[\w-]+)*\.(?:" + _TLDS + r")\b(?:/[^\s,;!?)]*[^\s.,;!?)])?",
                  re.IGNORECASE)
_VERSION = re.compile(r"(?<![\w.])v?\d+(?:\.\d+){2,}(?![\w.]*\d)")
_ADDRESS_MARKS = {".": " dot ", "@": " at ", "/": " slash ", "_": " underscore ", "-": " dash ", "+": " plus ",
                  ":": " colon ", "?": " question mark ", "=": " equals ", "&": " and ", "#": " hash "}
_LETTER_DIGIT = re.compile(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")

# Abbreviations: (pattern, replacement, may end a sentence). Patterns include the trailing period.
_ABBREVIATIONS: list[tuple[re.Pattern[str], str, bool]] = [
    (re.compile(r"\bMrs\."), "Missus", False),
    (re.compile(r"\bMr\."), "Mister", False),
    (re.compile(r"\bMs\."), "Miz", False),
    (re.compile(r"\bDr\.(?=\s+[A-Z])"), "Doctor", False),
    (re.compile(r"\bDr\."), "Drive", True),
    (re.compile(r"\bProf\."), "Professor", False),
    (re.compile(r"\bSt\.(?=\s+[A-Z])"), "Saint", False),
    (re.compile(r"\bSt\."), "Street", True),
    (re.compile(r"\bMt\."), "Mount", False),
    (re.compile(r"\bAve\."), "Avenue", True),
    (re.compile(r"\bRd\."), "Road", True),
    (re.compile(r"\bJr\."), "Junior", True),
    (re.compile(r"\bSr\."), "Senior", True),
    (re.compile(r"\bInc\."), "Incorporated", True),
    (re.compile(r"\bLtd\."), "Limited", True),
    (re.compile(r"\bCo\."), "Company", True),
    (re.compile(r"\bDept\."), "Department", True),
    (re.compile(r"\bvs\.?(?=\s)", re.IGNORECASE), "versus", False),
    (re.compile(r"\betc\.", re.IGNORECASE), "et cetera", True),
    (re.compile(r"\be\.g\.", re.IGNORECASE), "for example", False),
    (re.compile(r"\bi\.e\.", re.IGNORECASE), "that is", False),
    (re.compile(r"\bapprox\.", re.IGNORECASE), "approximately", False),
    (re.compile(r"\bNo\.(?=\s?\d)"), "number", False),
    (re.compile(r"\bno\.(?=\s?\d)"), "number", False),
]
_NEXT_SENTENCE = re.compile(r"\s+[A-Z]|\s*$")  # what follows a period that ends a sentence

_SYMBOLS = [
    (re.compile(r"&"), " and "),
    (re.compile(r"%"), " percent "),
    (re.compile(r"\+"), " plus "),
    (re.compile(r"(?<=\s)=(?=\s)|(?<=\d)\s?=\s?(?=\d)"), " equals "),
    (re.compile(r"@"), " at "),
    (re.compile(r"°"), " degrees "),
    (re.compile(r"×"), " times "),
    (re.compile(r"\$"), " dollars "),
    (re.compile(r"€"), " euros "),
    (re.compile(r"£"), " pounds "),
    (re.compile(r"[*_~^|<>{}\[\]\\`=#]"), " "),
]

_PUNCTUATION_FOLD = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2013": " - ", "\u2014": ", ", "\u2015": ", ", "\u2212": "-", "\u2026": "...", "\u00a0": " ",
})


# ---------------------------------------------------------------------------------------------------------------
# Normalisation steps


def _fold_unicode(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_PUNCTUATION_FOLD)
    # Paragraph breaks become sentence breaks; every other control character becomes a space.
    text = re.sub(r"(?<=[.!?:;,])\s*\n\s*\n\s*", " ", text)
    text = re.sub(r"\s*\n\s*\n\s*", ". ", text)
    return "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)


def _expand_abbreviations(text: str) -> str:
    for pattern, replacement, may_end_sentence in _ABBREVIATIONS:
        def substitute(match: re.Match[str], replacement: str = replacement, may_end: bool = may_end_sentence) -> str:
            # "etc." at the end of a sentence keeps its period so the sentence still ends there.
            ends_sentence = may_end and _NEXT_SENTENCE.match(match.string, match.end()) is not None
            return replacement + ("." if ends_sentence else "")

        text = pattern.sub(substitute, text)
    return text


def _currency(match: re.Match[str]) -> str:
    one, many, cent_one, cents_many = _CURRENCY_NAMES[match.group("sym")]
    number = match.group("num")
    scale = match.group("scale")
    if scale:
        return f" {decimal_to_words(number)} {_SCALE_WORDS[scale.lower()]} {many} "
    whole, _, frac = number.partition(".")
    amount = int(whole)
    if frac and len(frac) != 2:
        return f" {decimal_to_words(number)} {many} "
    cents = int(frac) if frac else 0
    parts = []
    if amount or not cents:
        parts.append(f"{number_to_words(amount)} {one if amount == 1 else many}")
    if cents:
        parts.append(f"{number_to_words(cents)} {cent_one if cents == 1 else cents_many}")
    return " " + " and ".join(parts) + " "


def _percent(match: re.Match[str]) -> str:
    return f" {_plain_number_to_words(match.group('num'))} percent "


def _time(match: re.Match[str]) -> str:
    hours, minutes = int(match.group("h")), int(match.group("m"))
    ampm = match.group("ampm")
    if minutes == 0:
        words = f"{number_to_words(hours)} o'clock" if not ampm else number_to_words(hours)
    elif minutes < 10:
        words = f"{number_to_words(hours)} oh {number_to_words(minutes)}"
    else:
        words = f"{number_to_words(hours)} {number_to_words(minutes)}"
    if ampm:
        words += " A M" if ampm.lower() == "a" else " P M"
    return f" {words} "


def _ordinal(match: re.Match[str]) -> str:
    return f" {ordinal_to_words(int(match.group('num')))} "


def _unit(match: re.Match[str]) -> str:
    number = match.group("num")
    one, many = _UNITS[match.group("unit").lower()]
    value = float(number)
    return f" {_plain_number_to_words(number)} {one if value == 1 else many} "


def _fraction(match: re.Match[str]) -> str:
    whole, words = match.group("whole"), _FRACTIONS[match.group("frac")]
    return f"{whole} and {words.replace('one ', 'a ', 1)}" if whole else f" {words} "   # 1½: one and a half


def _range(match: re.Match[str]) -> str:
    a, b = match.group("a"), match.group("b")
    # a range rises and its ends look alike (5-10, 95-100, 1990-1995); 555-1234 is a phone number
    alike = len(a) == len(b) or len(b) <= 3
    return f"{a} to {b}" if int(a) < int(b) and alike and not (len(a) > 1 and a.startswith("0")) else match.group(0)


def _decade(match: re.Match[str]) -> str:
    number = match.group("num") or match.group("short") or match.group("quoted")
    value = int(number)
    words = year_to_words(value) if len(number) == 4 else number_to_words(value)
    if words.endswith("y"):
        return f" {words[:-1]}ies "
    return f" {words}s "


def _address(match: re.Match[str]) -> str:
    text = re.sub(r"^https?://", "", match.group(0), flags=re.IGNORECASE)
    text = re.sub(r"^www\.", "w w w.", text, flags=re.IGNORECASE)
    return " " + "".join(_ADDRESS_MARKS.get(ch, ch) for ch in text) + " "


def _version(match: re.Match[str]) -> str:
    written = match.group(0)
    if written.startswith("v"):
        return " version " + " point ".join(written[1:].split(".")) + " "
    parts = written.split(".")
    return " " + (" dot " if len(parts) == 4 else " point ").join(parts) + " "   # four parts: an IP address


def _bare_number(match: re.Match[str]) -> str:
    return f" {_plain_number_to_words(match.group(0))} "


def _ascii_fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def normalize_text(text: str) -> str:
    """Written text → text a synthesiser reads as intended. ASCII output, single spaces, no leading/trailing space."""
    text = _FRACTION.sub(_fraction, text)
    text = _RANGE.sub(_range, text)
    text = _fold_unicode(text)
    text = _EMAIL.sub(_address, text)
    text = _WEB.sub(_address, text)
    text = _VERSION.sub(_version, text)
    text = _expand_abbreviations(text)
    text = _GROUPED.sub(lambda m: m.group(0).replace(",", ""), text)
    text = _CURRENCY.sub(_currency, text)
    text = _PERCENT.sub(_percent, text)
    text = _TIME.sub(_time, text)
    text = _ORDINAL.sub(_ordinal, text)
    text = _UNIT.sub(_unit, text)
    text = _DECADE.sub(_decade, text)
    text = _NUMBER_SIGN.sub(" number ", text)
    text = _LETTER_DIGIT.sub(" ", text)
    text = _BARE_NUMBER.sub(_bare_number, text)
    for pattern, replacement in _SYMBOLS:
        text = pattern.sub(replacement, text)
    text = _ascii_fold(text)
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"\s+([.,!?;:])", r"\1", text)


# ---------------------------------------------------------------------------------------------------------------
# Sentences and chunks

_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s+|$)")
_INITIAL = re.compile(r"(?:^|\s)[A-Z]\.$")
_SPEAKABLE = re.compile(r"[A-Za-z0-9]")


def split_sentences(text: str) -> list[str]:
    """Split normalised text after ``.``, ``!`` or ``?`` (plus closing quotes/brackets) followed by whitespace.

    A period after a single capital letter (an initial, as in ``J. R. Smith``) does not end a sentence, nor does
    one followed by a lowercase word.
    """
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        rest = text[end:].lstrip()
        if rest and rest[0].islower():
            continue
        if match.group(0) == "." and _INITIAL.search(text[start:end]):
            continue
        piece = text[start:end].strip()
        if piece:
            sentences.append(piece)
        start = end
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _split_long(sentence: str, max_chars: int) -> list[str]:
    pieces: list[str] = []
    while len(sentence) > max_chars:
        window = sentence[: max_chars + 1]
        cut = max(window.rfind(", "), window.rfind("; "), window.rfind(": "))
        if cut > max_chars // 3:
            cut += 1  # keep the punctuation with the left piece
        else:
            cut = window.rfind(" ")
            if cut <= 0:
                cut = max_chars
        pieces.append(sentence[:cut].strip())
        sentence = sentence[cut:].strip()
    if sentence:
        pieces.append(sentence)
    return pieces


def chunk_text(text: str, max_chars: int = 400) -> list[str]:
    """Normalised text → sentence-sized chunks of at most ``max_chars``, each with something to say."""
    chunks: list[str] = []
    for sentence in split_sentences(text):
        chunks.extend(_split_long(sentence, max_chars))
    return [chunk for chunk in chunks if _SPEAKABLE.search(chunk)]
