"""The /v1 surface (shared/seeds/004_5a12b7bad55cf019.txt): cloning TTS, custom voices and jobs over the same
accounts, keys, credits, voices and pipeline as /api/v1 — thin HTTP adapters over ``service_layer`` — plus the
Scalar API reference and the sandbox pages."""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from . import jobs, pages, tts, voices, webhooks


def register(app: Flask, api: Api) -> None:
    api.register_blueprint(tts.blp)
    api.register_blueprint(voices.blp)
    api.register_blueprint(jobs.blp)
    api.register_blueprint(webhooks.blp)
    app.register_blueprint(pages.blp)  # HTML pages: not part of the OpenAPI document
