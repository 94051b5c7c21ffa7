"""voicekit: the pure-Python logic behind the models in this Triton model repository.

Nothing here imports Triton: the models' ``model.py`` files only move tensors in and out and call these modules,
so unit tests (and any other Python) can use them directly. Modules:

- ``errors``  – :class:`VoicekitError`, the one exception a model turns into a Triton error.
- ``text``    – text normalisation for TTS and sentence chunking (pure functions).
- ``pcm``     – float/PCM16 conversion, WAV reading, joining chunks without clicks (numpy only).
- ``flite``   – the CMU Flite system voices, run as a subprocess.
- ``tts``     – text → audio: validate, normalise, chunk, synthesise, join (Kokoro or flite).
- ``kokoro``  – Kokoro-82M (ONNX): tokens, style packs, the engine; ``g2p`` – text → phonemes per language;
  ``stretch`` – WSOLA time-stretch (speed/duration, pitch unchanged).
- ``codecs``  – audio → bytes in mp3 / wav / opus / pcm, with MIME types.
- ``decode``  – uploaded files (WAV / MP3 / WebM / Ogg, recognised by magic bytes) → 16 kHz mono samples.
- ``pitch``   – YIN F0 tracking and robust log-F0 statistics.
- ``psola``   – TD-PSOLA pitch modification with a per-frame ratio (the log-F0 mapping).
- ``enrolment`` – reference recording → voice profile (or a clear refusal of unusable audio).
- ``profile`` – the profile document: parsing, the system voices' pitch table, applying it to synthesis.
"""

__version__ = "0.2.0"
