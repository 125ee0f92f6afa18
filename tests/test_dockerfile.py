"""The container image of docs/deployment.md: built and run when a docker engine is reachable."""

from __future__ import annotations

import fnmatch
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"


def copied_sources() -> list[str]:
    """The build-context paths the Dockerfile's COPY instructions read."""
    sources: list[str] = []
    for line in DOCKERFILE.read_text().splitlines():
        words = line.split()
        if not words or words[0] != "COPY" or any(w.startswith("--from=") for w in words):
            continue
        sources += words[1:-1]
    return sources


def test_every_copied_path_is_in_the_build_context() -> None:
    ignored = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = copied_sources()
    assert "src" in sources
    assert "pyproject.toml" in sources
    for source in sources:
        assert (REPO / source).exists(), source
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source


@pytest.fixture(scope="module")
def docker() -> str:
    """The docker client, when it reaches an engine."""
    client = shutil.which("docker")
    if client is None:
        pytest.skip("no docker client on this machine")
    try:
        info = subprocess.run(
            [client, "info"], capture_output=True, text=True, timeout=20, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.skip("the docker engine does not answer")
    if info.returncode != 0:
        pytest.skip(f"no docker engine reachable: {info.stderr.strip()[-300:]}")
    return client


@pytest.fixture(scope="module")
def image(docker: str) -> Iterator[str]:
    tag = f"rujuk-test:{secrets.token_hex(4)}"
    built = subprocess.run(
        [docker, "build", "--tag", tag, str(REPO)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    yield tag
    subprocess.run([docker, "image", "rm", "--force", tag], capture_output=True, check=False)


def test_the_image_runs_rujuk_as_an_unprivileged_user_with_the_console(
    docker: str, image: str
) -> None:
    script = "import os, rujuk.console.assets as a; print(os.getuid(), a.find_bundle() is not None)"
    ran = subprocess.run(
        [docker, "run", "--rm", image, "python", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    uid, bundled = ran.stdout.split()
    assert uid != "0"
    assert bundled == "True"
    helped = subprocess.run(
        [docker, "run", "--rm", image, "rujuk", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert helped.returncode == 0, helped.stderr
    assert "serve" in helped.stdout
