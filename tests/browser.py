"""Headless Chromium for the browser tests: Debian's package, driven by Playwright."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def find_chromium() -> tuple[str | None, str]:
    """Debian's Chromium, installed through apt-get when missing and possible: its path, or
    None and why not."""
    try:
        result = subprocess.run(
            [str(REPO / "scripts" / "ensure-chromium")],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, f"no Chromium could be installed: {error}"
    path = result.stdout.strip()
    if result.returncode != 0 or not path:
        return None, f"no Chromium could be installed: {result.stderr.strip()[-500:]}"
    return path, ""
