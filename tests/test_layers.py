"""The import contracts of pyproject.toml ([tool.importlinter]): the code keeps them, and each
one fails on the import it exists to refuse."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def contracts() -> dict[str, dict[str, object]]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def lint_imports(src: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports with the repository's contracts over the package under src."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(REPO / "pyproject.toml")],
        cwd=src,
        # The copy under src comes before the editable install of the checkout.
        env={**os.environ, "PYTHONPATH": str(src)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_contracts_are_the_layers_the_domain_the_driver_and_no_cycles() -> None:
    found = contracts()
    assert set(found) == {"layers", "domain", "driver", "acyclic"}
    assert found["layers"]["layers"] == [
        "rujuk.cli",
        "rujuk.lifecycle",
        "rujuk.app",
        "rujuk.api | rujuk.console | rujuk.demo",
        "rujuk.resolvers",
        "rujuk.schema",
        "rujuk.services",
        "rujuk.graph",
        "rujuk.db",
        "rujuk.records : rujuk.money : rujuk.ids : rujuk.access : rujuk.errors : rujuk.config"
        " : rujuk.vocabulary",
        "rujuk.compat",
    ]
    forbidden = set(found["domain"]["forbidden_modules"])  # type: ignore[call-overload]
    assert {"strawberry", "graphql", "starlette", "asyncpg", "rujuk.db"} <= forbidden
    assert found["driver"]["forbidden_modules"] == ["asyncpg"]
    assert "rujuk.services" in found["driver"]["source_modules"]  # type: ignore[operator]


def test_make_lint_runs_the_contracts() -> None:
    assert "$(BIN)/lint-imports" in (REPO / "Makefile").read_text()


def test_the_code_keeps_the_contracts(tmp_path: Path) -> None:
    result = lint_imports(copy_of_the_package(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "violation", "broken"),
    [
        # The database layer reaching up to the services.
        ("db/pool.py", "from rujuk.services import runtime", "HTTP -> API -> services"),
        # The schema reaching up to the root types (the cycle this contract removed).
        ("schema/types.py", "from rujuk.resolvers import query", "HTTP -> API -> services"),
        # The in-memory graph depending on the GraphQL library, or on the database.
        ("graph/referral_graph.py", "import strawberry", "The domain knows neither"),
        ("graph/referral_graph.py", "from rujuk.db import pool", "The domain knows neither"),
        # A service naming the driver's exceptions instead of db/'s.
        ("services/purchase_writer.py", "import asyncpg", "Only db/ speaks"),
        # Two modules outside the layers importing each other.
        ("metrics.py", "import rujuk.observe", "No import cycle"),
    ],
)
def test_a_violation_fails_its_contract(
    tmp_path: Path, module: str, violation: str, broken: str
) -> None:
    src = copy_of_the_package(tmp_path)
    target = src / "rujuk" / module
    target.write_text(target.read_text() + f"\n{violation}  # noqa\n")
    result = lint_imports(src)
    assert result.returncode == 1, result.stdout + result.stderr
    verdicts = [line for line in result.stdout.splitlines() if line.startswith(broken)]
    assert verdicts, result.stdout
    assert "BROKEN" in verdicts[0], result.stdout


def copy_of_the_package(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    shutil.copytree(
        REPO / "src" / "rujuk",
        src / "rujuk",
        ignore=shutil.ignore_patterns("__pycache__", "static", "migrations"),
    )
    return src
