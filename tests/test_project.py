"""The repository's own files: the Makefile's targets and stamps, the LICENSE."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def make_plan(*args: str, venv: Path) -> list[str]:
    """The commands `make` would run (a dry run) with the virtual environment at venv."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    result = subprocess.run(
        ["make", "--dry-run", "--no-print-directory", *args, f"VENV={venv}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def installs(plan: list[str]) -> list[str]:
    return [line for line in plan if "pip install" in line and "--upgrade pip" not in line]


def test_serve_installs_what_serving_needs_and_test_adds_the_test_tools(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    venv.mkdir()
    serve = make_plan("serve", venv=venv)
    assert installs(serve), serve
    assert all(re.search(r"-e \.(\s|$)", line) for line in installs(serve)), serve
    assert not any("[test]" in line for line in serve), serve

    # What the serve install leaves behind: its stamps, newer than pyproject.toml.
    for line in serve:
        if line.startswith("touch "):
            Path(line.removeprefix("touch ").strip()).touch()
    assert not installs(make_plan("serve", venv=venv)), "the stamps are up to date"

    test = make_plan("test", venv=venv)
    assert any("'.[test]'" in line for line in installs(test)), test


def test_make_serve_takes_port_and_host(tmp_path: Path) -> None:
    default = [line for line in make_plan("serve", venv=tmp_path) if "rujuk serve" in line]
    assert len(default) == 1
    assert "--host 127.0.0.1" in default[0]
    assert "--port 8000" in default[0]
    chosen = [
        line
        for line in make_plan("serve", "PORT=9123", "HOST=0.0.0.0", venv=tmp_path)
        if "rujuk serve" in line
    ]
    assert len(chosen) == 1
    assert "--host 0.0.0.0" in chosen[0]
    assert "--port 9123" in chosen[0]


def test_the_license_is_the_one_pyproject_names() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    text = (REPO / "LICENSE").read_text()
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
