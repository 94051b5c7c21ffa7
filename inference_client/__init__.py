"""The only code that talks to Triton: an async gRPC client for the models in ``triton_models/``.

    client = InferenceClient.from_settings(service_config.load())
    audio = await client.synthesize("Hello world.", voice="slt", speed=1.0)
    encoded = await client.encode(audio, "mp3")        # EncodedAudio(data, mime_type, duration_s, format)
    await client.close()

Errors are :class:`InferenceError` with a stable ``code``, a human ``reason`` and ``retryable``.
"""
from .client import (
    FORMATS,
    Audio,
    EncodedAudio,
    InferenceClient,
    InferenceError,
    VoiceProfile,
)

__all__ = ["FORMATS", "Audio", "EncodedAudio", "InferenceClient", "InferenceError", "VoiceProfile"]
