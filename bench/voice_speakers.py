"""Reference speakers for the voice-quality benchmark — all SYNTHETIC, made on the fly.

No recordings of real people with a licence that allows this use were found on the machine, so the "speakers"
are other synthesisers' voices and transformed variants (what each is, and which system voice it must not be
converted from, is in ``SPEAKERS``):

- the four flite voices (awb, rms, slt: statistical voices trained on real CMU ARCTIC speakers; kal16: diphone) —
  when the target *is* a flite voice, that voice is excluded from the base-voice choice (otherwise cloning it is
  trivial);
- espeak-ng voices (a formant synthesiser: a different family of voice entirely);
- a vocal-tract-length variant of slt (formants lowered ×0.87 by resampling, pitch restored by TD-PSOLA) and a
  pitch variant of awb (F0 × 1.3 by TD-PSOLA) — their source voice is excluded too.

Each speaker renders any text to 16 kHz mono float32.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from voicekit import psola
from voicekit.flite import Flite
from voicekit.pcm import join_segments, read_wav

RATE = 16000

# Enrolment reference: about 15-20 s of speech per speaker (the API asks for 10-60 s).
ENROL_TEXT = (
    "When the sunlight strikes raindrops in the air, they act as a prism and form a rainbow.",
    "The rainbow is a division of white light into many beautiful colors.",
    "These take the shape of a long round arch, with its path high above, and its two ends apparently beyond "
    "the horizon.",
    "There is, according to legend, a boiling pot of gold at one end.",
)
# Held-out sentences (never in the reference, never among voicekit.voiceclone.PROXY_TEXT).
HELD_OUT_TEXT = (
    "The stale smell of old beer lingers.",
    "Rice is often served in round bowls.",
    "The box was thrown beside the parked truck.",
    "Help the woman get back to her feet.",
    "The small pup gnawed a hole in the sock.",
    "The fish twisted and turned on the bent hook.",
)

# Held-out sentences in the other languages a real speaker of the benchmark may speak and Kokoro reads
# (``bench.voice_quality_real --own-language``): plain everyday sentences of the Harvard sentences' length, none
# taken from a recording of the benchmark. Keys are the synthesizer's language codes (``voicekit.g2p.LANGUAGES``).
HELD_OUT_BY_LANGUAGE = {
    "fr": ("Le vieux chat dort près de la fenêtre ouverte.",
           "Nous irons au marché demain matin avec mon frère.",
           "Elle a laissé son parapluie dans le train.",
           "La soupe chaude est servie dans de grands bols.",
           "Le petit chien a creusé un trou dans le jardin.",
           "Il faut ranger les livres sur la haute étagère."),
    "it": ("Il vecchio gatto dorme vicino alla finestra aperta.",
           "Domani mattina andremo al mercato con mio fratello.",
           "Ha lasciato l'ombrello sul treno di ieri sera.",
           "La zuppa calda è servita in grandi ciotole.",
           "Il piccolo cane ha scavato una buca nel giardino.",
           "Bisogna mettere i libri sullo scaffale più alto."),
    "es": ("El gato viejo duerme junto a la ventana abierta.",
           "Mañana por la mañana iremos al mercado con mi hermano.",
           "Dejó su paraguas en el tren de anoche.",
           "La sopa caliente se sirve en tazones grandes.",
           "El perro pequeño cavó un hoyo en el jardín.",
           "Hay que poner los libros en el estante más alto."),
    "pt-br": ("O gato velho dorme perto da janela aberta.",
              "Amanhã de manhã vamos ao mercado com meu irmão.",
              "Ela deixou o guarda-chuva no trem ontem à noite.",
              "A sopa quente é servida em tigelas grandes.",
              "O cachorro pequeno cavou um buraco no jardim.",
              "É preciso colocar os livros na prateleira mais alta."),
}


def own_language(speaker_language: str) -> str | None:
    """The synthesizer's code for a real speaker's language (``fr-CA`` → ``fr``, ``pt-BR`` → ``pt-br``) when this
    module has held-out sentences in it, else None (the clone then says the English ones)."""
    tag = speaker_language.strip().lower().replace("_", "-")
    for code in HELD_OUT_BY_LANGUAGE:
        if tag == code or tag.split("-")[0] == code.split("-")[0]:
            return code
    return None


def held_out_sentences(language: str | None, count: int) -> tuple[str, ...]:
    """The first ``count`` held-out sentences in ``language`` (None: the English Harvard sentences)."""
    return (HELD_OUT_BY_LANGUAGE[language] if language else HELD_OUT_TEXT)[:count]


def _resample(samples: np.ndarray, rate: int, target: int = RATE) -> np.ndarray:
    if rate == target:
        return samples.astype(np.float32)
    import soxr

    return soxr.resample(samples.astype(np.float32), rate, target, quality="soxr_hq").astype(np.float32)


def flite_render(voice: str) -> Callable[[str], np.ndarray]:
    flite = Flite()

    def render(text: str) -> np.ndarray:
        samples, rate = flite.synthesize(text, voice)
        return _resample(samples, rate)

    return render


def espeak_render(voice: str) -> Callable[[str], np.ndarray]:
    binary = shutil.which("espeak-ng")

    def render(text: str) -> np.ndarray:
        if binary is None:
            raise RuntimeError("espeak-ng is not installed")
        with tempfile.TemporaryDirectory(prefix="vq-espeak-") as tmp:
            path = Path(tmp) / "out.wav"
            subprocess.run([binary, "-v", voice, "-s", "160", "-w", str(path), text], check=True,
                           capture_output=True, timeout=60)
            samples, rate = read_wav(str(path))
        return _resample(samples, rate)

    return render


def vtl_variant(render: Callable[[str], np.ndarray], factor: float) -> Callable[[str], np.ndarray]:
    """Formants × ``factor`` with the pitch kept: resample (changes formants, pitch and tempo together), then
    TD-PSOLA the pitch back. The tempo changes by 1/``factor`` (a slower or faster talker)."""
    import soxr

    def out(text: str) -> np.ndarray:
        samples = render(text)
        # playing samples resampled from RATE to RATE/factor at RATE scales every frequency by factor
        moved = soxr.resample(samples, RATE, int(round(RATE / factor)), quality="soxr_hq").astype(np.float32)
        return psola.shift(moved, RATE, lambda f0: np.full_like(f0, 1.0 / factor))

    return out


def pitch_variant(render: Callable[[str], np.ndarray], ratio: float) -> Callable[[str], np.ndarray]:
    def out(text: str) -> np.ndarray:
        return psola.shift(render(text), RATE, lambda f0: np.full_like(f0, ratio))

    return out


@dataclass(frozen=True)
class Speaker:
    name: str
    description: str
    render: Callable[[str], np.ndarray] = field(repr=False)
    exclude: tuple[str, ...] = ()  # system voices the conversion may not start from

    def say(self, sentences) -> np.ndarray:
        return join_segments([self.render(s) for s in sentences], RATE, gap_s=0.3)


KOKORO_LEAVE_OUT = ("am_michael", "af_sarah", "bf_isabella", "bm_lewis")


def kokoro_render(name: str) -> Callable[[str], np.ndarray]:
    """A Kokoro stock voice as a target speaker (16 kHz). The Kokoro benchmark enrols it against a bank without
    that voice (``Speaker.exclude``), so the clone has to be found, not looked up."""
    from voicekit.kokoro import SAMPLE_RATE, KokoroEngine

    engine = _kokoro_engine(KokoroEngine)
    language = "en-gb" if name.startswith("b") else "en-us"

    def render(text: str) -> np.ndarray:
        return _resample(engine.speak(text, language, engine.voice_pack(name)), SAMPLE_RATE)

    return render


_ENGINES: dict = {}


def _kokoro_engine(factory):
    if "kokoro" not in _ENGINES:
        _ENGINES["kokoro"] = factory()
    return _ENGINES["kokoro"]


def kokoro_speakers(names: tuple[str, ...] = KOKORO_LEAVE_OUT) -> list[Speaker]:
    return [Speaker(f"kokoro-{n}", f"Kokoro stock voice {n}, left out of the enrolment bank", kokoro_render(n), (n,))
            for n in names]


def speakers() -> list[Speaker]:
    found = [
        Speaker("flite-awb", "flite awb (statistical, CMU ARCTIC awb, Scottish male)", flite_render("awb"),
                ("awb",)),
        Speaker("flite-rms", "flite rms (statistical, CMU ARCTIC rms, US male)", flite_render("rms"), ("rms",)),
        Speaker("flite-slt", "flite slt (statistical, CMU ARCTIC slt, US female)", flite_render("slt"), ("slt",)),
        Speaker("flite-kal16", "flite kal16 (diphone, US male)", flite_render("kal16"), ("kal16",)),
        Speaker("slt-vtl0.87", "flite slt, formants x0.87 (resampled), pitch restored by PSOLA",
                vtl_variant(flite_render("slt"), 0.87), ("slt",)),
        Speaker("awb-f0x1.3", "flite awb, F0 x1.3 by PSOLA", pitch_variant(flite_render("awb"), 1.3), ("awb",)),
    ]
    if shutil.which("espeak-ng"):
        found += [
            Speaker("espeak-f2", "espeak-ng en-us+f2 (formant synthesis, female variant)", espeak_render("en-us+f2"),
                    ()),
            Speaker("espeak-m3", "espeak-ng en+m3 (formant synthesis, male variant)", espeak_render("en+m3"), ()),
        ]
    return found
