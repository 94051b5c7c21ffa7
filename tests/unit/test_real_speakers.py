"""bench.real_speakers: the pure parts (clip choice, splitting, resampling, RTTM, .deb reading, sha256 check).

No network and no registry: archives are built in memory here.
"""
from __future__ import annotations

import hashlib
import io
import tarfile

import numpy as np
import pytest

from bench import real_speakers as rs


def tone(freq: float, seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize("rate", [8000, 22050, 48000])
def test_to_mono_16k_keeps_duration_and_pitch(rate: int) -> None:
    out = rs.to_mono_16k(tone(440.0, 2.0, rate), rate)
    assert out.dtype == np.float32
    assert abs(len(out) - 32000) <= 2
    assert abs(peak_hz(out, rs.RATE) - 440.0) < 2.0


def test_to_mono_16k_averages_channels() -> None:
    left = tone(300.0, 1.0, 16000)
    stereo = np.stack([left, -left], axis=1)  # opposite phase: the mean is silence
    assert np.max(np.abs(rs.to_mono_16k(stereo, 16000))) < 1e-6
    same = rs.to_mono_16k(np.stack([left, left], axis=1), 16000)
    np.testing.assert_allclose(same, left, atol=1e-6)


def test_pick_clips_fills_reference_then_spreads_held_out() -> None:
    durations = [(f"c{i:02d}", 3.0) for i in range(20)] + [("long", 30.0), ("tiny", 0.5)]
    reference, held = rs.pick_clips(durations, reference_s=10.0, held=4)
    assert reference == ["c00", "c01", "c02", "c03"]  # 12 s >= 10 s
    assert held == ["c04", "c09", "c14", "c19"]  # every 5th of the 16 remaining, first and last included
    assert not set(reference) & set(held)
    assert "long" not in held and "tiny" not in held  # outside 2.5-12 s


def test_pick_clips_with_few_clips_returns_what_is_left() -> None:
    reference, held = rs.pick_clips([("a", 4.0), ("b", 4.0), ("c", 4.0)], reference_s=6.0, held=6)
    assert reference == ["a", "b"] and held == ["c"]
    assert rs.pick_clips([("a", 4.0)], reference_s=6.0, held=3) == (["a"], [])


def test_split_long_cuts_reference_then_clips() -> None:
    x = np.arange(16000 * 21, dtype=np.float32)  # 21 s
    reference, clips = rs.split_long(x, reference_s=10.0, clip_s=4.0)
    assert len(reference) == 160000 and reference[-1] == 159999
    assert [len(c) for c in clips] == [64000, 64000, 48000]  # 4 + 4 + 3 s (3 s >= half a clip: kept)
    assert clips[0][0] == 160000  # held-out starts exactly where the reference ends
    _, clips = rs.split_long(x[: 16000 * 19], reference_s=10.0, clip_s=4.0)
    assert [len(c) for c in clips] == [64000, 64000]  # the 1 s tail is dropped
    with pytest.raises(ValueError):
        rs.split_long(x[:16000], reference_s=5.0)


RTTM = """SPEAKER s 1 0.00 2.00 <NA> <NA> A <NA> <NA>
SPEAKER s 1 1.50 2.00 <NA> <NA> B <NA> <NA>
SPEAKER s 1 4.00 5.00 <NA> <NA> A <NA> <NA>
SPEAKER s 1 5.00 0.20 <NA> <NA> B <NA> <NA>
"""


def test_rttm_solo_segments_remove_overlap() -> None:
    assert rs.rttm_solo_segments(RTTM, "A") == [(0.0, 1.5), (4.0, 5.0), (5.2, 9.0)]
    solo_b = rs.rttm_solo_segments(RTTM, "B")
    assert solo_b == [(2.0, 3.5)]  # B's 0.2 s turn lies inside A's: nothing left of it


def test_pick_segments_longest_first() -> None:
    segments = [(0.0, 1.5), (4.0, 5.0), (5.2, 9.0), (10.0, 12.0)]
    reference, held = rs.pick_segments(segments, reference_s=5.0)
    assert reference == [(5.2, 9.0), (10.0, 12.0)]  # 3.8 + 2 s
    assert held == [(0.0, 1.5), (4.0, 5.0)]


def _ar(members: dict[str, bytes]) -> bytes:
    out = bytearray(b"!<arch>\n")
    for name, data in members.items():
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode()
        assert len(header) == 60
        out += header + data + (b"\n" if len(data) % 2 else b"")
    return bytes(out)


def _tar_xz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:xz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_ar_members_reads_odd_sized_members() -> None:
    blob = _ar({"debian-binary": b"2.0\n", "odd": b"abc", "data.tar.xz": b"xyz1"})
    assert rs.ar_members(blob) == {"debian-binary": b"2.0\n", "odd": b"abc", "data.tar.xz": b"xyz1"}
    with pytest.raises(rs.FetchError):
        rs.ar_members(b"PK\x03\x04 not an ar archive")


def test_extract_deb_takes_only_matching_members(tmp_path) -> None:
    data = _tar_xz({"./usr/share/sounds/v/a.wav": b"A", "./usr/share/sounds/v/b.txt": b"B",
                    "./usr/share/doc/x/copyright": b"C"})
    deb = tmp_path / "pkg_1_all.deb"
    deb.write_bytes(_ar({"debian-binary": b"2.0\n", "control.tar.xz": _tar_xz({}), "data.tar.xz": data}))
    archive = rs.Archive("deb", "pkg", "1", deb.name, rs.sha256_of(deb), r"(\./)?usr/share/sounds/v/[^/]+\.wav$")
    root = rs.extract(archive, deb, tmp_path / "cache")
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == [".complete", "usr/share/sounds/v/a.wav"]
    nothing = rs.Archive("deb", "pkg", "1", "other.deb", archive.sha256, r"nomatch$")
    deb2 = tmp_path / "other.deb"
    deb2.write_bytes(deb.read_bytes())
    with pytest.raises(rs.FetchError):
        rs.extract(nothing, deb2, tmp_path / "cache")


def test_fetch_rejects_a_wrong_checksum_and_removes_the_file(tmp_path) -> None:
    content = b"pretend archive"
    (tmp_path / "p.deb").write_bytes(content)
    good = rs.Archive("deb", "p", "1", "p.deb", hashlib.sha256(content).hexdigest(), ".*")
    assert rs.fetch(good, tmp_path) == tmp_path / "p.deb"  # present and right: no download attempted
    bad = rs.Archive("deb", "p", "1", "p.deb", "0" * 64, ".*")
    with pytest.raises(rs.FetchError, match="sha256"):
        rs.fetch(bad, tmp_path)
    assert not (tmp_path / "p.deb").exists()


def test_gsm_reading_and_duration(tmp_path) -> None:
    import soundfile

    path = tmp_path / "prompt.gsm"
    soundfile.write(str(path), tone(200.0, 1.0, 8000), 8000, format="RAW", subtype="GSM610")
    samples, rate = rs._read(path)
    assert rate == 8000
    assert len(samples) == 8000
    assert rs._duration(path) == pytest.approx(1.0)
    assert abs(peak_hz(samples, 8000) - 200.0) < 5.0


def test_catalogue_is_consistent() -> None:
    names = [s.name for s in rs.SPEAKERS]
    assert len(names) == len(set(names))
    assert len({s.name for s in rs.SPEAKERS if not s.rttm_speaker and s.name != "alsa-speaker-test"}) >= 10
    for spec in rs.SPEAKERS:
        archive = rs.ARCHIVES[spec.archive]
        assert len(archive.sha256) == 64 and int(archive.sha256, 16) >= 0
        assert spec.sex in (None, "f", "m")
        assert bool(spec.files) + bool(spec.reference) + bool(spec.rttm_speaker) == 1
    with pytest.raises(ValueError):
        rs.load(names=["no-such-speaker"])


def test_g722_duration_from_size(tmp_path) -> None:
    path = tmp_path / "prompt.g722"
    path.write_bytes(bytes(8000))  # 64 kbit/s: 8000 bytes = 1 s of 16 kHz audio
    assert rs._duration(path) == pytest.approx(1.0)


def test_g722_decoding_round_trip(tmp_path) -> None:
    import G722 as g722  # the test extra pins it (load(wideband=True) needs it)
    pcm = (tone(1000.0, 1.0, 16000) * 32767).astype(np.int16)
    path = tmp_path / "prompt.g722"
    path.write_bytes(bytes(g722.G722(16000, 64000).encode(pcm)))
    samples, rate = rs._read(path)
    assert rate == 16000 and len(samples) == 16000
    assert abs(peak_hz(samples, 16000) - 1000.0) < 5.0


def test_wideband_swaps_only_the_asterisk_core_voices() -> None:
    wide = {s.name: s.wideband for s in rs.SPEAKERS if s.wideband}
    assert sorted(wide) == ["asterisk-en-allison", "asterisk-fr-june", "asterisk-it-carlo", "asterisk-ru-ivrvoice"]
    for name, key in wide.items():
        spec = next(s for s in rs.SPEAKERS if s.name == name)
        narrow, broad = rs.ARCHIVES[spec.archive], rs.ARCHIVES[key]
        assert narrow.package.replace("-wav", "-g722") == broad.package and narrow.version == broad.version
