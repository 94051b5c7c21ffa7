"""Numbers, dates, times, units and currency written out for the non-English front ends, as each language says them.

espeak-ng reads most numbers in es/fr/it/pt-br/hi, misaki's Mandarin reads digits (cn2an) and OpenJTalk reads
kanji numerals, but each misread something a user writes every day; each step below says what it was. English
has its own, fuller normaliser (``voicekit.text.normalize_text``).
"""
from __future__ import annotations

import re

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
_CURRENCY = re.compile(r"([$¥￥€£])\s?(\d+(?:,\d{3})*(?:\.\d+)?)")
_CURRENCY_AFTER = re.compile(r"(\d+(?:,\d{3})*(?:\.\d+)?)\s?([$¥￥€£])")
_ZH_UNITS = {"km/h": "公里每小时", "km": "公里", "kg": "公斤", "cm": "厘米", "mm": "毫米"}
_ZH_UNIT = re.compile(r"(\d+(?:\.\d+)?)\s?(km/h|km|kg|cm|mm)(?![A-Za-z/])")
_MINUS = re.compile(r"(?<![0-9A-Za-z.])[-−](?=\d)")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_CJK_FORMS = {
    "zh": {"clock": ("{h}点", "{m:02d}分"), "minus": "负", "$": "美元", "¥": "元", "￥": "元", "€": "欧元",
           "£": "英镑"},
    "ja": {"clock": ("{h}時", None), "minus": "マイナス", "$": "ドル", "¥": "円", "￥": "円", "€": "ユーロ",
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


# digit strings that are codes, not amounts: a mobile number (11 digits, 1[3-9]…), a leading zero, or more than 16
# digits (cn2an's limit: it warned and misread them); said digit by digit, a phone number's 1 as yāo
_ZH_DIGIT_STRING = re.compile(r"(?<![\d.])(?:1[3-9]\d{9}|0\d+|\d{17,})(?![\d.])")
_ZH_DIGITS = "零一二三四五六七八九"


def _zh_digits(match: re.Match[str]) -> str:
    digits = match.group(0)
    phone = len(digits) == 11 and digits[0] == "1"
    return "".join("幺" if phone and d == "1" else _ZH_DIGITS[int(d)] for d in digits)


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
        # None: minutes in kana (japanese_minutes), since OpenJTalk misreads 分
        return said + (japanese_minutes(m) if minute is None else minute.format(m=m).replace("0", "零", m < 10))

    text = _CLOCK.sub(clock, text)
    text = _CURRENCY.sub(lambda m: m.group(2) + forms[m.group(1)], text)
    text = _CURRENCY_AFTER.sub(lambda m: m.group(1) + forms[m.group(2)], text)
    if language == "zh":   # misaki leaves Latin unit symbols unread
        text = _ZH_UNIT.sub(lambda m: m.group(1) + _ZH_UNITS[m.group(2)], text)
    text = _MINUS.sub(forms["minus"], text)
    text = _THOUSANDS.sub("", text)
    if language != "zh":
        return text
    return _ZH_TWO.sub("两", _ZH_DIGIT_STRING.sub(_zh_digits, text))


_FULL_WIDTH_NUMBERS = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "，": ",", "．": "."})
# Symbols the Japanese reader drops ("10%" was read as "10")
JA_SYMBOLS = str.maketrans({"%": "パーセント", "％": "パーセント", "€": "ユーロ", "&": "アンド"})


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


# Units, currency signs and minus signs in the espeak languages: espeak spelt "km/h" ("ka eme barra ache"), read
# "R$ 5,00" as "real cinco vírgula zero zero" and "$5" as "dólar cinco", and dropped the minus of "-3" in es, fr, hi.
# Each entry: (singular, plural); a 1 takes the singular.
_SYMBOL_WORDS: dict[str, dict[str, tuple[str, str]]] = {
    "es": {"km/h": ("kilómetro por hora", "kilómetros por hora"), "km": ("kilómetro", "kilómetros"),
           "kg": ("kilogramo", "kilogramos"), "cm": ("centímetro", "centímetros"), "mm": ("milímetro", "milímetros"),
           "°C": ("grado Celsius", "grados Celsius"), "$": ("dólar", "dólares"), "US$": ("dólar", "dólares"),
           "€": ("euro", "euros"), "£": ("libra", "libras"), "-": ("menos", "menos")},
    "fr": {"km/h": ("kilomètre heure", "kilomètres heure"), "km": ("kilomètre", "kilomètres"),
           "kg": ("kilogramme", "kilogrammes"), "cm": ("centimètre", "centimètres"),
           "mm": ("millimètre", "millimètres"), "°C": ("degré Celsius", "degrés Celsius"), "$": ("dollar", "dollars"),
           "US$": ("dollar", "dollars"), "€": ("euro", "euros"), "£": ("livre", "livres"), "-": ("moins", "moins")},
    "it": {"km/h": ("chilometro orario", "chilometri orari"), "km": ("chilometro", "chilometri"),
           "kg": ("chilogrammo", "chilogrammi"), "cm": ("centimetro", "centimetri"), "mm": ("millimetro", "millimetri"),
           "°C": ("grado Celsius", "gradi Celsius"), "$": ("dollaro", "dollari"), "US$": ("dollaro", "dollari"),
           "€": ("euro", "euro"), "£": ("sterlina", "sterline"), "-": ("meno", "meno")},
    "pt-br": {"km/h": ("quilômetro por hora", "quilômetros por hora"), "km": ("quilômetro", "quilômetros"),
              "kg": ("quilo", "quilos"), "cm": ("centímetro", "centímetros"), "mm": ("milímetro", "milímetros"),
              "°C": ("grau Celsius", "graus Celsius"), "R$": ("real", "reais"), "$": ("dólar", "dólares"),
              "US$": ("dólar", "dólares"), "€": ("euro", "euros"), "£": ("libra", "libras"), "-": ("menos", "menos")},
    "hi": {"km/h": ("किलोमीटर प्रति घंटा", "किलोमीटर प्रति घंटा"), "km": ("किलोमीटर", "किलोमीटर"),
           "kg": ("किलोग्राम", "किलोग्राम"), "cm": ("सेंटीमीटर", "सेंटीमीटर"), "mm": ("मिलीमीटर", "मिलीमीटर"),
           "°C": ("डिग्री सेल्सियस", "डिग्री सेल्सियस"), "₹": ("रुपया", "रुपये"), "$": ("डॉलर", "डॉलर"),
           "US$": ("डॉलर", "डॉलर"), "€": ("यूरो", "यूरो"), "£": ("पाउंड", "पाउंड"), "-": ("माइनस", "माइनस")},
}
# a number as these languages write it: 3 000 / 3.000 / 3,000 thousands, a decimal comma or point
_AMOUNT = r"\d{1,3}(?:[.,\u00a0\u202f ]\d{3})+(?:[.,]\d+)?(?!\d)|\d+(?:[.,]\d+)?"
_SIGN = r"R\$|US\$|[$€£₹]"
_SIGN_FIRST = re.compile(r"(?P<sign>" + _SIGN + r")\s?(?P<num>" + _AMOUNT + ")")
_SIGN_AFTER = re.compile(r"(?P<num>" + _AMOUNT + r")\s?(?P<sign>" + _SIGN + r")(?!\w)")
_UNIT_AFTER = re.compile(r"(?P<num>" + _AMOUNT + r")\s?(?P<unit>km/h|km|kg|cm|mm|°C)(?![\w/])")
_LEADING_MINUS = re.compile(r"(?<![\w.,])[-−](?=\d)")
_NO_CENTS = re.compile(r"[.,]00$")
# ordinals espeak misread: French "2e" ("deux e"; "2ème" it reads), "1re" ("un re"); Spanish "1.º" ("uno punto o")
_FR_ORDINAL = re.compile(r"\b(\d+)e\b")
_FR_FIRST = re.compile(r"\b1re\b")
_MONTH_ORDINAL = {language: re.compile(r"(?<=\d)°(?=\s+(?:de\s+)?(?:" + "|".join(form[1].split()) + r")\b)",
                                        re.IGNORECASE)
                  for language, form in _DATE_FORMS.items() if language != "fr"}
_ORDINAL_POINT = re.compile(r"(?<=\d)\.(?=[ºª])")


def spoken_symbols(text: str, language: str) -> str:
    """``R$ 5,00`` → ``5 reais``, ``20 km/h`` → ``20 kilómetros por hora``, ``-3`` → ``menos 3`` (es/fr/it/pt-br/hi);
    espeak then reads the numbers."""
    words = _SYMBOL_WORDS.get(language)
    if words is None:
        return text

    def said(number: str, key: str) -> str:
        if key not in words:
            return ""
        number = _NO_CENTS.sub("", number.strip())
        return f"{number} {words[key][0 if number == '1' else 1]}"

    if language == "fr":
        text = _FR_ORDINAL.sub(r"\1ème", _FR_FIRST.sub("première", text))
    text = _ORDINAL_POINT.sub("", text)
    if language in _MONTH_ORDINAL:   # "1° maggio" is primo maggio (espeak read "uno gradi maggio")
        text = _MONTH_ORDINAL[language].sub("º", text)
    text = _SIGN_FIRST.sub(lambda m: said(m.group("num"), m.group("sign")) or m.group(0), text)
    text = _SIGN_AFTER.sub(lambda m: said(m.group("num"), m.group("sign")) or m.group(0), text)
    text = _UNIT_AFTER.sub(lambda m: said(m.group("num"), m.group("unit")), text)
    return _LEADING_MINUS.sub(words["-"][0] + " ", text)
