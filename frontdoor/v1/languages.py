"""The /v1 `language` parameter over the synthesizer's own list and detector (``inference_client.languages``,
pure): `auto` (detect from the text) or a supported code; anything else is a 400 naming the supported list."""
from __future__ import annotations

from inference_client import languages as _languages

AUTO = _languages.AUTO


def supported() -> tuple[str, ...]:
    return tuple(_languages.SUPPORTED)


def normalize(value: str) -> str | None:
    """The canonical code (`EN_us` → `en-us`), `auto`, or None when not supported."""
    return _languages.normalize(value)


def unsupported_message(value: str) -> str:
    return f"language {value!r} is not supported; use auto or one of: {', '.join(supported())}"


def resolve(requested: str, text: str) -> str:
    """The language the text is spoken in; ValueError (a message for the caller) when not supported."""
    return _languages.resolve(requested, text)


def detect(text: str) -> str | None:
    return _languages.detect(text)


def warm_up() -> None:
    _languages.warm_up()
