"""The HTTP front door: a Flask + flask-smorest app that validates, authenticates, rate-limits and publishes."""
from __future__ import annotations

from pathlib import Path

from flask import Flask, jsonify, send_from_directory
from flask_smorest import Api
from swagger_ui_bundle import swagger_ui_path

import schemas
from adapters import mongo
from service_config import Settings, load

from . import abuse, auth, credits, errors, idempotency, keys, ratelimits, request_ids, tts, usage, v1, voices, webhooks
from .context import Services, services
from .v1 import languages as v1_languages

API_DESCRIPTION = """Voice cloning and text-to-speech API.

Authenticate with `Authorization: Bearer YOUR_API_KEY` (or `X-API-Key`). Every error is `{"code", "error"}`, plus
`requestId`: the `X-Request-Id` every response carries (send your own, up to 128 of `[A-Za-z0-9._-]`, to trace it).
Rate-limit headers `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` come on every response;
reads of your jobs (`GET /api/v1/tts/{id}`, `/v1/jobs/{id}`) have their own budget (2400/min) apart from the
rest (120/min). Retry any POST safely with an `Idempotency-Key` header (the first answer is replayed, charged
once). Wait for a job instead of polling: `GET /api/v1/tts/{id}?wait=25` answers as soon as it ends.

Two surfaces over the same accounts, keys, credits, voices and jobs: `/api/v1/*` and `/v1/*` (cloning TTS with a
reference upload or a custom voice, sync or async jobs, presigned results; integrations send `X-API-Key`).
Try `/v1` in the browser at [/sandbox](/sandbox).
"""


def create_app(settings: Settings | None = None, connect: bool = True) -> Flask:
    settings = settings or load()
    request_ids.install_logging(settings.log_level)
    app = Flask(__name__)
    app.config.update(
        API_TITLE="Voice Clone & Text-to-Speech API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        # Interactive reference at /api/docs; its assets come from the swagger-ui-bundle wheel, not a CDN.
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="/api/docs/assets/",
        API_SPEC_OPTIONS={
            "info": {"description": API_DESCRIPTION},
            "components": {"securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            }},
            "security": [{"bearerAuth": []}, {"apiKeyHeader": []}],
        },
        MAX_CONTENT_LENGTH=21 * 1024 * 1024,
    )
    app.json.sort_keys = False  # keep the documented field order ("success" first, as in the seed)
    api = Api(app)
    errors.register(app)  # after Api(): replaces flask-smorest's own HTTPException handler
    if connect:
        app.extensions["voiceforge"] = Services.connect(settings)
        v1_languages.warm_up()  # language=auto's model, loaded before the first request rather than in it
    request_ids.register(app)  # first: every answer, refusals included, carries X-Request-Id
    ratelimits.register(app)  # before auth: failed key guesses are rate limited too
    auth.register(app, lambda: services().ports)
    if connect:
        abuse.register(app, settings)  # after auth: the upload limit counts per account
    api.register_blueprint(tts.blp)
    api.register_blueprint(voices.clone_blp)
    api.register_blueprint(voices.voices_blp)
    api.register_blueprint(credits.blp)
    api.register_blueprint(keys.blp)
    api.register_blueprint(usage.blp)
    api.register_blueprint(webhooks.blp)
    v1.register(app, api)  # the second surface (seed 004), its API reference and sandbox pages
    idempotency.install(app)  # after every blueprint: wraps each POST view of both surfaces
    idempotency.document(api)

    @app.get("/api/docs/assets/<path:filename>")
    def docs_assets(filename):
        return send_from_directory(str(swagger_ui_path), filename, max_age=86400)

    @app.get("/api/asyncapi.json")
    def asyncapi():
        # The public completion events' contract (Kafka topic <prefix>.completions), next to the OpenAPI document.
        return send_from_directory(str(Path(schemas.__file__).parent), "completions.asyncapi.json")

    @app.get("/api/openapi")
    def openapi_alias():
        # The second API document names /api/openapi as the raw schema; serve the same document there.
        return jsonify(api.spec.to_dict())

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    def readyz():
        svc = services()
        mongo.ping(svc.db)
        svc.limiter.ping()
        return jsonify({"status": "ready"})

    return app
