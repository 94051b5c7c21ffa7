"""voicekit.pcm, voicekit.codecs and voicekit.tts (with the real flite binary), without Triton."""
from __future__ import annotations

import io
import shutil

import av
import numpy as np
import pytest
import soundfile

from voicekit import codecs, pcm
from voicekit.errors import VoicekitError
from voicekit.tts import Synthesizer

RATE = 16000


def tone(seconds: float, rate: int = RATE, freq: float = 220.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def decode_with_av(data: bytes) -> tuple[np.ndarray, int]:
    with av.open(io.BytesIO(data)) as container:
        frames = [frame for frame in container.decode(audio=0)]
    samples = np.concatenate([f.to_ndarray().reshape(f.samples, -1).mean(axis=1) for f in frames])
    return samples.astype(np.float32), frames[0].sample_rate


def decode(fmt: str, encoded: codecs.Encoded, rate: int) -> tuple[np.ndarray, int]:
    if fmt == "pcm":
        return pcm.from_pcm16(encoded.data), rate
    samples, decoded_rate = soundfile.read(io.BytesIO(encoded.data), dtype="float32")
    return samples, decoded_rate


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


# -- pcm ------------------------------------------------------------------------------------------------------------

def test_pcm16_round_trip_and_clipping():
    x = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 1.7, -3.0], dtype=np.float32)
    pcm16 = pcm.to_pcm16(x)
    assert pcm16.dtype == np.dtype("<i2")
    assert list(pcm16[-4:]) == [32767, -32767, 32767, -32767]
    assert np.allclose(pcm.from_pcm16(pcm16.tobytes())[:3], x[:3], atol=1 / 32768)


def test_wav_round_trip():
    x = tone(0.5)
    samples, rate = pcm.read_wav(pcm.write_wav(x, RATE))
    assert rate == RATE and len(samples) == len(x)
    assert np.max(np.abs(samples - x)) < 1e-4


def test_trim_silence_keeps_a_margin_around_speech():
    x = np.concatenate([np.zeros(RATE), tone(0.5), np.zeros(RATE)])
    trimmed = pcm.trim_silence(x, RATE, keep_s=0.05)
    assert 0.55 <= len(trimmed) / RATE <= 0.63
    assert pcm.trim_silence(np.zeros(RATE, np.float32), RATE).size == 0


def test_join_segments_has_no_clicks_and_the_expected_length():
    # Segments that start and end at full amplitude would click if butted together.
    segments = [np.full(RATE // 2, 0.8, dtype=np.float32), np.full(RATE // 2, -0.8, dtype=np.float32)]
    joined = pcm.join_segments(segments, RATE, gap_s=0.2, edge_s=0.1, fade_s=0.01)
    assert len(joined) == int(RATE * (0.1 + 0.5 + 0.2 + 0.5 + 0.1))
    assert joined[0] == 0 and joined[-1] == 0
    # A 10 ms raised-cosine fade from 0.8 moves at most 0.8 * pi / (2 * 160) per sample.
    assert np.max(np.abs(np.diff(joined))) < 0.01


def test_validate_audio_rejects_bad_input():
    with pytest.raises(VoicekitError) as empty:
        pcm.validate_audio(np.zeros(0, np.float32), RATE)
    assert empty.value.code == "invalid_audio" and empty.value.invalid_input
    with pytest.raises(VoicekitError):
        pcm.validate_audio(np.array([0.0, np.nan], np.float32), RATE)
    with pytest.raises(VoicekitError):
        pcm.validate_audio(np.zeros((2, 10), np.float32), RATE)
    with pytest.raises(VoicekitError):
        pcm.validate_audio(np.zeros(10, np.float32), 100)


# -- codecs ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt, mime", [
    ("mp3", "audio/mpeg"),
    ("wav", "audio/wav"),
    ("opus", "audio/ogg; codecs=opus"),
    ("pcm", "audio/pcm; rate=16000; encoding=s16le; channels=1"),
])
@pytest.mark.parametrize("seconds", [0.3, 2.5])
def test_encoders_produce_decodable_audio_of_the_right_length(fmt, mime, seconds):
    x = tone(seconds, freq=440.0)
    encoded = codecs.encode(x, RATE, fmt)
    assert encoded.mime_type == mime
    assert encoded.duration_s == pytest.approx(seconds, abs=1e-3)
    samples, rate = decode(fmt, encoded, RATE)
    assert rate == (48000 if fmt == "opus" else RATE)
    assert len(samples) / rate == pytest.approx(seconds, rel=0.01)
    # The content survives: still a 440 Hz tone at about the same level.
    middle = samples[len(samples) // 4: 3 * len(samples) // 4]
    assert dominant_frequency(middle, rate) == pytest.approx(440.0, abs=10)
    assert np.sqrt(np.mean(middle ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.2)


@pytest.mark.parametrize("fmt", ["mp3", "opus"])
def test_lossy_formats_decode_with_pyav_too(fmt):
    encoded = codecs.encode(tone(1.0), RATE, fmt)
    samples, rate = decode_with_av(encoded.data)
    assert len(samples) / rate == pytest.approx(1.0, rel=0.01)


def test_mp3_resamples_rates_it_cannot_carry():
    encoded = codecs.encode(tone(1.0, rate=96000), 96000, "mp3")
    samples, rate = soundfile.read(io.BytesIO(encoded.data))
    assert rate == 48000 and len(samples) / rate == pytest.approx(1.0, rel=0.01)


def test_encode_rejects_unknown_format_and_bad_audio():
    with pytest.raises(VoicekitError) as unknown:
        codecs.encode(tone(0.1), RATE, "flac")
    assert unknown.value.code == "unsupported_format"
    with pytest.raises(VoicekitError) as empty:
        codecs.encode(np.zeros(0, np.float32), RATE, "wav")
    assert empty.value.code == "invalid_audio"


# -- tts (real flite) -----------------------------------------------------------------------------------------------

flite_missing = pytest.mark.skipif(shutil.which("flite") is None, reason="Debian package flite is not installed")


@pytest.fixture(scope="module")
def synthesizer():
    synth = Synthesizer()
    yield synth
    synth.close()


def speech_rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples ** 2)))


def median_pitch(samples: np.ndarray, rate: int) -> float:
    """Median F0 (Hz) over voiced 40 ms frames, by autocorrelation in 70-400 Hz."""
    frame, hop = int(0.04 * rate), int(0.01 * rate)
    threshold = 0.3 * np.max([speech_rms(samples[i:i + frame]) for i in range(0, len(samples) - frame, hop)])
    pitches = []
    for start in range(0, len(samples) - frame, hop):
        x = samples[start:start + frame]
        if speech_rms(x) < threshold:
            continue
        x = x - x.mean()
        ac = np.correlate(x, x, mode="full")[frame - 1:]
        lo, hi = rate // 400, rate // 70
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.5 * ac[0]:
            pitches.append(rate / lag)
    return float(np.median(pitches))


@flite_missing
@pytest.mark.parametrize("voice", ["slt", "awb", "rms", "kal16", "kal"])
def test_every_system_voice_speaks(synthesizer, voice):
    audio, rate = synthesizer.synthesize("Hello world, this is a test.", voice)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert rate == (8000 if voice == "kal" else 16000)
    assert 1.0 <= len(audio) / rate <= 4.0
    assert speech_rms(audio) > 0.02 and np.max(np.abs(audio)) <= 1.0


@flite_missing
def test_speed_changes_tempo_not_pitch(synthesizer):
    text = "The quick brown fox jumps over the lazy dog."
    slow, rate = synthesizer.synthesize(text, "slt", speed=0.5)
    normal, _ = synthesizer.synthesize(text, "slt", speed=1.0)
    fast, _ = synthesizer.synthesize(text, "slt", speed=2.0)
    assert len(slow) / len(normal) == pytest.approx(2.0, rel=0.15)
    assert len(fast) / len(normal) == pytest.approx(0.5, rel=0.15)
    assert median_pitch(slow, rate) == pytest.approx(median_pitch(normal, rate), rel=0.15)
    assert median_pitch(fast, rate) == pytest.approx(median_pitch(normal, rate), rel=0.15)


@flite_missing
def test_long_text_is_synthesised_per_sentence_and_joined_without_clicks(synthesizer):
    sentence = "This sentence is one of many in a long text."
    one, rate = synthesizer.synthesize(sentence, "slt")
    many, _ = synthesizer.synthesize(" ".join([sentence] * 6), "slt")
    # Six sentences plus five 0.3 s pauses; the join fades every edge, so the loudest sample-to-sample step
    # is no bigger than inside a single sentence.
    assert len(many) / rate == pytest.approx(6 * (len(one) / rate - 0.2) + 5 * 0.3 + 0.2, rel=0.05)
    assert np.max(np.abs(np.diff(many))) <= np.max(np.abs(np.diff(one))) * 1.05


@flite_missing
@pytest.mark.parametrize("text, voice, speed, code", [
    ("Hello", "nobody", 1.0, "unknown_voice"),
    ("Hello", "../../etc/passwd", 1.0, "unknown_voice"),
    ("Hello", "slt", 0.1, "invalid_speed"),
    ("Hello", "slt", float("nan"), "invalid_speed"),
    ("", "slt", 1.0, "invalid_text"),
    ("... ---", "slt", 1.0, "invalid_text"),
    ("x" * 20_001, "slt", 1.0, "text_too_long"),
])
def test_bad_requests_are_rejected_with_a_code(synthesizer, text, voice, speed, code):
    with pytest.raises(VoicekitError) as error:
        synthesizer.synthesize(text, voice, speed)
    assert error.value.code == code and error.value.invalid_input
    assert error.value.wire_message().startswith(f"[voicekit:{code}] ")


@flite_missing
def test_text_that_looks_like_options_is_spoken_not_obeyed(synthesizer):
    audio, rate = synthesizer.synthesize("-voice awb -o /tmp/x.wav; rm -rf / $(whoami)", "slt")
    assert len(audio) / rate > 1.0
