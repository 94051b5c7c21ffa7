"""Installs the API reference's browser bundle: `@scalar/api-reference`'s standalone build, from npm.

Pinned version, checked by sha256, fetched with `npm pack` at install time (never from a CDN at run time) and
kept out of git (it is ~5 MB). `make setup` runs ``assets.main()``; a second run is a no-op.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

SCALAR_PACKAGE = "@scalar/api-reference"
SCALAR_VERSION = "1.76.0"
SCALAR_TARBALL_SHA256 = "f1821c173d387d3dd4722215b946ad9aec3610f177616f0a312e4eb159b9c378"
BUNDLE_MEMBER = "package/dist/browser/standalone.js"

VENDOR_DIR = Path(__file__).resolve().parent / "static" / "vendor"
SCALAR_BUNDLE = VENDOR_DIR / f"scalar-api-reference-{SCALAR_VERSION}.js"


def scalar_installed() -> bool:
    return SCALAR_BUNDLE.is_file() and SCALAR_BUNDLE.stat().st_size > 0


def _npm() -> str:
    """npm, installed from Debian when missing (root or passwordless sudo), as stack/kokoro_assets.py does."""
    npm = shutil.which("npm")
    if npm:
        return npm
    prefix = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if prefix is None:
        raise RuntimeError("npm is needed once to fetch the API reference bundle; install it: apt-get install -y npm")
    subprocess.run(prefix + ["apt-get", "install", "-y", "--no-install-recommends", "npm"], check=True,
                   env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"), timeout=1800)
    npm = shutil.which("npm")
    if not npm:
        raise RuntimeError("npm still missing after apt-get install npm")
    return npm


def install_scalar() -> Path:
    if scalar_installed():
        return SCALAR_BUNDLE
    npm = _npm()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([npm, "pack", f"{SCALAR_PACKAGE}@{SCALAR_VERSION}", "--silent"], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL, timeout=600)
        tarballs = list(Path(tmp).glob("*.tgz"))
        if len(tarballs) != 1:
            raise RuntimeError(f"npm pack produced {len(tarballs)} tarballs in {tmp}")
        digest = hashlib.sha256(tarballs[0].read_bytes()).hexdigest()
        if digest != SCALAR_TARBALL_SHA256:
            raise RuntimeError(f"{tarballs[0].name}: sha256 {digest}, expected {SCALAR_TARBALL_SHA256}")
        with tarfile.open(tarballs[0]) as archive:
            data = archive.extractfile(BUNDLE_MEMBER).read()
    VENDOR_DIR.mkdir(parents=True, exist_ok=True)
    partial = SCALAR_BUNDLE.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(SCALAR_BUNDLE)  # atomic: a half-written bundle is never served
    return SCALAR_BUNDLE


def main() -> int:
    path = install_scalar()
    print(f"API reference bundle: {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
