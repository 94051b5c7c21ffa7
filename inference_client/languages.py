"""The languages the synthesizer speaks, and `detect(text)` for `language=auto`. Pure, offline, no I/O.

Codes are what callers send and what the ``synthesize`` model's LANGUAGE input accepts: ``en`` (the voice's own
English variant, else US), ``en-us``, ``en-gb``, ``es``, ``fr``, ``it``, ``pt`` / ``pt-br`` (Brazilian), ``hi``,
``ja``, ``zh`` (Mandarin) — the languages Kokoro-82M was trained on (docs/inference.md "Languages").

Detection: by script first (Han without kana → ``zh``; kana → ``ja``; Devanagari → ``hi``; Hangul, Cyrillic,
Arabic, Greek, Hebrew, Thai … → that language, which is then *unsupported*). Latin-script text goes to
``py3langid`` (langid.py's naive Bayes over byte n-grams, its model in the wheel), restricted to the supported
languages and the commoner unsupported Latin-script ones (German, Dutch, Polish, …) so those are refused rather
than read as English. Where it is unsure (a word or two: "Merci !", "OK"), frequent function words and letters
peculiar to one language decide, and text with no such evidence is English. Measured on 102 everyday texts in
13 languages (tests/unit/test_kokoro_runtime.py `_EVERYDAY`): 101 of 102 right, against 64 for the word lists alone.
"""
from __future__ import annotations

import re
import threading
import unicodedata

SUPPORTED: tuple[str, ...] = ("en", "en-us", "en-gb", "es", "fr", "it", "pt", "pt-br", "hi", "ja", "zh")
NAMES = {"en": "English", "en-us": "American English", "en-gb": "British English", "es": "Spanish",
         "fr": "French", "it": "Italian", "pt": "Portuguese", "pt-br": "Brazilian Portuguese", "hi": "Hindi",
         "ja": "Japanese", "zh": "Mandarin Chinese"}
AUTO = "auto"

_ALIASES = {"english": "en", "en_us": "en-us", "en_gb": "en-gb", "en-uk": "en-gb", "pt_br": "pt-br",
            "zh-cn": "zh", "zh-hans": "zh", "cmn": "zh", "mandarin": "zh", "chinese": "zh", "jp": "ja",
            "japanese": "ja", "spanish": "es", "french": "fr", "italian": "it", "portuguese": "pt", "hindi": "hi"}


def normalize(code: str | None) -> str | None:
    """A caller's language value → its canonical code (``EN_us`` → ``en-us``); ``auto`` stays; None if unknown."""
    if code is None:
        return None
    value = code.strip().lower().replace("_", "-")
    value = _ALIASES.get(value, value)
    if value == AUTO or value in SUPPORTED:
        return value
    return None


def is_supported(code: str | None) -> bool:
    return normalize(code) not in (None, AUTO)


# ---------------------------------------------------------------------------------------------------- detection

# (unicodedata name prefix of a letter, language it means)
_SCRIPTS = (("CJK UNIFIED", "zh"), ("CJK COMPATIBILITY IDEOGRAPH", "zh"), ("HIRAGANA", "ja"), ("KATAKANA", "ja"),
            ("DEVANAGARI", "hi"), ("HANGUL", "ko"), ("CYRILLIC", "ru"), ("ARABIC", "ar"), ("GREEK", "el"),
            ("HEBREW", "he"), ("THAI", "th"), ("BENGALI", "bn"), ("TAMIL", "ta"), ("GEORGIAN", "ka"),
            ("ARMENIAN", "hy"), ("LATIN", "latin"))

_STOPWORDS = {
    "en": "the and of to is in that it was for on are with as you this be at have not but by from they we "
          "his her she he or an my your what which there their will would can all if do does one about hello",
    "es": "el la los las de que y en un una es por con para no se del al lo como más pero sus le ya o este "
          "sí porque esta está son muy también hola gracias tengo estás cómo",
    "fr": "le la les de des et est un une du en que qui dans pour pas au sur ce il elle ne se avec vous nous "
          "je mais ou sont cette bonjour merci très ça c'est j'ai",
    "it": "il lo la gli le di che e è un una per non in del della con sono mi si ma come questo anche ho "
          "buongiorno ciao grazie molto perché sei",
    "pt": "o a os as de que e do da em um uma para com não se por mais no na dos das é ao mas você está "
          "olá obrigado muito também são isso tudo bem",
    "de": "der die das und ist nicht ein eine ich sie es zu den mit von auf für dem ist sich auch wir ihr "
          "guten danke hallo",
    "nl": "de het een en van is dat niet ik je zijn op te met voor er maar ook hallo dank",
    "ca": "els les amb per però molt aquesta això",
    "ro": "și este pentru care sunt această acest",
    "pl": "nie się jest na że to jak ale czy dla",
    "tr": "ve bir bu için ile çok ne da değil",
    "sv": "och att det som är på för med inte jag",
}
_STOPWORD_SETS = {lang: set(words.split()) for lang, words in _STOPWORDS.items()}
# letters that occur (almost) only in one of the candidate languages
_LETTER_HINTS = {"ñ": "es", "¿": "es", "¡": "es", "ç": "fr", "œ": "fr", "ê": "fr", "â": "fr",
                 "î": "fr", "ô": "fr", "û": "fr", "ë": "fr", "ã": "pt", "õ": "pt", "ß": "de", "ä": "de", "ö": "de",
                 "ü": "de", "ą": "pl", "ł": "pl", "ę": "pl", "ș": "ro", "ț": "ro", "ğ": "tr", "ı": "tr", "å": "sv"}
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)


def _script_counts(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for char in text:
        if not char.isalpha():
            continue
        name = unicodedata.name(char, "")
        for prefix, language in _SCRIPTS:
            if name.startswith(prefix):
                counts[language] = counts.get(language, 0) + 1
                break
    return counts


def _latin_language(text: str) -> str:
    lowered = text.lower()
    words = _WORD.findall(lowered)
    scores = {lang: 0.0 for lang in _STOPWORD_SETS}
    for word in words:
        for lang, stopwords in _STOPWORD_SETS.items():
            if word in stopwords:
                scores[lang] += 1.0
    for char in lowered:
        hinted = _LETTER_HINTS.get(char)
        if hinted:
            scores[hinted] += 1.5
    best = max(scores, key=lambda lang: (scores[lang], lang == "en"))
    return best if scores[best] > 0 else "en"  # no evidence at all: English, the commonest Latin-script text


# langid's candidates for Latin-script text: the supported languages and common unsupported Latin-script ones
_LATIN_CANDIDATES = ("en", "es", "fr", "it", "pt", "de", "nl", "ca", "ro", "pl", "tr", "sv", "da", "no", "fi", "cs",
                     "sk", "hu", "id", "ms", "vi", "hr", "sl", "et", "lv", "lt", "eu", "gl", "af", "sw", "tl", "ga",
                     "cy", "is", "sq")
# below this normalised probability langid is guessing (a single word: 0.03-0.45, right or wrong), and the word
# lists decide; short sentences it gets right score 0.33-0.5
_SURE = 0.3
_identifier = None
_identifier_lock = threading.Lock()


def _langid(text: str) -> tuple[str, float]:
    global _identifier
    with _identifier_lock:
        if _identifier is None:   # ≈ 0.4 s, once per process
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            identifier.set_languages(list(_LATIN_CANDIDATES))
            _identifier = identifier
        language, probability = _identifier.classify(text)
    return str(language), float(probability)


def warm_up() -> None:
    """Load langid's model now (≈ 0.4 s), so that the first ``language=auto`` request does not wait for it."""
    _langid("warm up")


def _latin(text: str) -> str:
    language, probability = _langid(text)
    return language if probability >= _SURE else _latin_language(text)


def detect(text: str) -> str | None:
    """The language of ``text`` as a code: one of :data:`SUPPORTED` (``en``, ``es``, ``fr``, ``it``, ``pt``,
    ``hi``, ``ja``, ``zh``), another ISO 639-1 code for a language we do not speak (``de``, ``ru``, ``ko`` …),
    or None when the text has no letters to go by."""
    counts = _script_counts(text or "")
    if not counts:
        return None
    if counts.get("ja"):  # kana: Japanese, whatever share of kanji
        return "ja"
    script = max(counts, key=counts.get)
    if script != "latin":
        return script
    non_latin = sum(n for s, n in counts.items() if s != "latin")
    if counts.get("zh") and counts["zh"] >= non_latin:  # Chinese with some Latin words mixed in
        return "zh" if counts["zh"] * 3 >= counts["latin"] else _latin(text)
    return _latin(text)


def resolve(requested: str | None, text: str, default: str | None = None) -> str:
    """The language to synthesise in: ``requested`` (normalised), ``default`` when absent, detected for
    ``auto``. Raises ValueError with a message for the caller when it is not supported or cannot be told."""
    if requested is None or not str(requested).strip():
        return default or "en"
    code = normalize(requested)
    if code is None:
        raise ValueError(f"language {requested!r} is not supported; use auto or one of: {', '.join(SUPPORTED)}")
    if code != AUTO:
        return code
    detected = detect(text)
    if detected is None:
        raise ValueError("language could not be detected from the text; pass one of: " + ", ".join(SUPPORTED))
    if detected not in SUPPORTED:
        raise ValueError(f"detected language {detected!r} is not supported; supported: {', '.join(SUPPORTED)}")
    return detected
