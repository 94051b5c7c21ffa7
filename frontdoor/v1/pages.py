"""Browser pages of the front door beside Swagger UI (/api/docs): the Scalar API reference (/api/reference) and
the /v1 sandbox (/sandbox). Every asset is served from here; nothing comes from a CDN."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, render_template, send_from_directory

from . import assets, languages

STATIC_DIR = Path(__file__).resolve().parent / "static"

blp = Blueprint("v1_pages", __name__, template_folder="templates")

ASSET_PREFIXES = ("/api/reference/assets/", "/sandbox/assets/")  # static files: no rate limit


@blp.get("/api/reference")
def reference():
    if not assets.scalar_installed():
        return ("The API reference bundle is not installed; run `make setup` (frontdoor/v1/assets.py). "
                "The raw schema is at /api/openapi.", 503, {"Content-Type": "text/plain"})
    return render_template("reference.html", bundle=assets.SCALAR_BUNDLE.name)


@blp.get("/api/reference/assets/<path:filename>")
def reference_asset(filename):
    return send_from_directory(str(assets.VENDOR_DIR), filename, max_age=86400)


@blp.get("/sandbox")
def sandbox():
    return render_template("sandbox.html", languages=languages.supported())


@blp.get("/sandbox/assets/<path:filename>")
def static_asset(filename):
    return send_from_directory(str(STATIC_DIR), filename, max_age=300)
