"""voicekit.text: normalisation for TTS and sentence chunking (pure functions)."""
from __future__ import annotations

import pytest

from voicekit.text import (
    chunk_text,
    normalize_text,
    number_to_words,
    ordinal_to_words,
    split_sentences,
    year_to_words,
)


@pytest.mark.parametrize("n, words", [
    (0, "zero"), (7, "seven"), (13, "thirteen"), (40, "forty"), (42, "forty two"), (100, "one hundred"),
    (105, "one hundred five"), (1000, "one thousand"), (1234, "one thousand two hundred thirty four"),
    (1_000_000, "one million"), (2_000_017, "two million seventeen"), (-5, "minus five"),
    (10 ** 18, "one " + " ".join(["zero"] * 18)),
])
def test_number_to_words(n, words):
    assert number_to_words(n) == words


@pytest.mark.parametrize("n, words", [(1, "first"), (2, "second"), (3, "third"), (5, "fifth"), (12, "twelfth"),
                                      (20, "twentieth"), (21, "twenty first"), (100, "one hundredth")])
def test_ordinal_to_words(n, words):
    assert ordinal_to_words(n) == words


@pytest.mark.parametrize("n, words", [(1999, "nineteen ninety nine"), (1900, "nineteen hundred"),
                                      (1905, "nineteen oh five"), (2005, "two thousand five"),
                                      (2024, "twenty twenty four")])
def test_year_to_words(n, words):
    assert year_to_words(n) == words


@pytest.mark.parametrize("text, expected", [
    ("Hello world, this is a test.", "Hello world, this is a test."),
    ("I have 2 cats and 1,000,000 fish.", "I have two cats and one million fish."),
    ("Pi is 3.14.", "Pi is three point one four."),
    ("It was -5 degrees.", "It was minus five degrees."),
    ("Call 007.", "Call zero zero seven."),
    ("The 21st century", "The twenty first century"),
    ("Born in 1999, moved in 2005.", "Born in nineteen ninety nine, moved in two thousand five."),
    ("It costs $5.", "It costs five dollars."),
    ("It costs $1.", "It costs one dollar."),
    ("It costs $1,234.50 now", "It costs one thousand two hundred thirty four dollars and fifty cents now"),
    ("Only $0.99", "Only ninety nine cents"),
    ("A €3 fee", "A three euros fee"),
    ("Worth £2.5 million", "Worth two point five million pounds"),
    ("A $3bn deal", "A three billion dollars deal"),
    ("50% off", "fifty percent off"),
    ("12.5 % more", "twelve point five percent more"),
    ("Tom & Jerry", "Tom and Jerry"),
    ("2 + 2 = 4", "two plus two equals four"),
    ("mail me @ home", "mail me at home"),
    ("item #3", "item number three"),
    ("No. 7 is here", "number seven is here"),
    ("Meet at 10:30.", "Meet at ten thirty."),
    ("Meet at 7:05 pm.", "Meet at seven oh five P M."),
    ("Meet at 9:00.", "Meet at nine o'clock."),
    ("Times: 10:30: go", "Times: ten thirty: go"),  # a colon after the time is punctuation, not seconds
    ("Dr. Smith lives on Elm Dr.", "Doctor Smith lives on Elm Drive."),
    ("Mr. and Mrs. Jones", "Mister and Missus Jones"),
    ("St. Louis", "Saint Louis"),
    ("Apples, pears, etc. Then more.", "Apples, pears, et cetera. Then more."),
    ("Fruit, e.g. apples", "Fruit, for example apples"),
    ("cats vs. dogs", "cats versus dogs"),
    ("5 km away", "five kilometers away"),
    ("1 kg of flour", "one kilogram of flour"),
    ("12kg bag", "twelve kilograms bag"),
    ("30 km/h limit", "thirty kilometers per hour limit"),
    ("mp3 files", "mp three files"),
    ("Café “naïve” — text…", 'Cafe "naive", text...'),
    ("tabs\tand\nnewlines  here", "tabs and newlines here"),
    ("Title\n\nBody", "Title. Body"),
    ("the 1990s and the '80s", "the nineteen nineties and the eighties"),  # decades
    ("the 1900s", "the nineteen hundreds"),
    ("the early 70s, timeout 30s", "the early seventies, timeout thirty s"),  # two digits: a decade after "the"…
    ("3-4 days, pages 10–20", "three to four days, pages ten to twenty"),  # a rising range is said "to"
    ("call 555-0199, won 5-3", "call five hundred fifty five - zero one nine nine, won five - three"),  # not these
    ("dial 555-1234", "dial five hundred fifty five - twelve thirty four"),  # a phone number, not a range
    ("5-10 and 95-100 and 1990-1995", "five to ten and ninety five to one hundred and nineteen ninety to nineteen "
                                       "ninety five"),
    ("COVID-19", "COVID- nineteen"),
    ("1½ cups, ¾ of it", "one and a half cups, three quarters of it"),  # vulgar fractions
    ("50¢ or 1¢", "fifty cents or one cent"),
    ("Mail anna.smith@example.com today.", "Mail anna dot smith at example dot com today."),  # not three sentences
    ("See https://www.example.org/docs now", "See w w w dot example dot org slash docs now"),
    ("Version 2.5.1 and v1.10.0", "Version two point five point one and version one point ten point zero"),
    ("IP 10.0.0.1", "IP ten dot zero dot zero dot one"),
    ("", ""),
])
def test_normalize_text(text, expected):
    assert normalize_text(text) == expected


def test_normalize_text_output_is_plain_ascii():
    out = normalize_text("Ünïcödé ✓ 中文 text\x00\x07 with €5 and 10°")
    assert out.isascii()
    assert "  " not in out and out == out.strip()
    assert "five euros" in out and "ten degrees" in out


def test_split_sentences():
    text = "Hello there. How are you? I'm fine! J. R. R. Tolkien wrote books. \"Quoted.\" The end"
    assert split_sentences(text) == [
        "Hello there.", "How are you?", "I'm fine!", "J. R. R. Tolkien wrote books.", '"Quoted."', "The end",
    ]


def test_split_sentences_does_not_split_before_lowercase_or_inside_numbers():
    assert split_sentences("Version 1.5 is out... and it works. Next") == [
        "Version 1.5 is out... and it works.", "Next",
    ]


def test_chunk_text_splits_long_sentences_at_clauses_then_words():
    clause = "this clause has a handful of words in it"
    sentence = ", ".join([clause] * 12) + "."
    chunks = chunk_text(sentence, max_chars=100)
    assert all(len(chunk) <= 100 for chunk in chunks)
    assert " ".join(chunks).replace(" ,", ",") == sentence
    assert all(chunk.endswith((",", ".")) for chunk in chunks)  # cut after a comma, not mid-clause

    words = chunk_text("word " * 100, max_chars=42)
    assert all(len(chunk) <= 42 for chunk in words)
    assert " ".join(words).split() == ["word"] * 100


def test_chunk_text_drops_pieces_with_nothing_to_say():
    assert chunk_text("... !!! Hello. ?") == ["Hello."]
    assert chunk_text("") == []
