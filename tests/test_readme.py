"""The README's example queries run as written, in order, on a fresh server."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import graphql
import pytest

from tests.graphql_client import GraphQLClient

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^```(graphql|json)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
PLACEHOLDER = re.compile(r"^<([A-Za-z_][\w.]*)>$")
TOKEN_LINE = re.compile(r"\A# Authorization: Bearer (<[\w.]+>)\n")


def examples() -> list[tuple[str, dict[str, Any]]]:
    """Each graphql block of the section with the json block that follows it."""
    text = (ROOT / "README.md").read_text()
    start = text.index("## Example queries")
    section = text[start : text.index("\n## ", start + 1)]
    blocks = BLOCK.findall(section)
    kinds = [kind for kind, _ in blocks]
    assert kinds == ["graphql", "json"] * (len(blocks) // 2), kinds
    return [(blocks[i][1], json.loads(blocks[i + 1][1])) for i in range(0, len(blocks), 2)]


def lookup(path: str, answers: list[dict[str, Any]]) -> Any:
    """The value at a dotted path of the latest earlier answer that has it."""
    first, *rest = path.split(".")
    for data in reversed(answers):
        if first in data:
            value: Any = data[first]
            for step in rest:
                value = value[int(step)] if isinstance(value, list) else value[step]
            assert value is not None, path
            return value
    raise AssertionError(f"no earlier answer has {path}")


def resolve(value: Any, answers: list[dict[str, Any]]) -> Any:
    """Variables with every "<path>" replaced by the earlier answer's value."""
    if isinstance(value, dict):
        return {key: resolve(item, answers) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, answers) for item in value]
    if isinstance(value, str) and (found := PLACEHOLDER.match(value)):
        return lookup(found[1], answers)
    return value


def user_errors(value: Any) -> list[Any]:
    """Every userErrors entry anywhere in an answer."""
    if isinstance(value, dict):
        own = list(value.get("userErrors") or [])
        return own + [
            e for key, item in value.items() if key != "userErrors" for e in user_errors(item)
        ]
    if isinstance(value, list):
        return [e for item in value for e in user_errors(item)]
    return []


def operation_kind(document: str) -> str:
    [definition] = graphql.parse(document).definitions
    assert isinstance(definition, graphql.OperationDefinitionNode)
    assert definition.name is not None, "README operations are named"
    return definition.operation.value


def test_the_examples_are_found() -> None:
    found = examples()
    assert len(found) >= 9
    assert {operation_kind(document) for document, _ in found} == {
        "query",
        "mutation",
        "subscription",
    }
    documents = "\n".join(document for document, _ in found)
    for needed in ("issueCustomerToken", "viewer", "refundId", "recordPurchase"):
        assert needed in documents


async def test_every_example_runs_in_order(gql: GraphQLClient) -> None:
    sdl = graphql.build_schema((ROOT / "schema.graphql").read_text())
    answers: list[dict[str, Any]] = []
    ran: list[str] = []
    for document, variables in examples():
        token = TOKEN_LINE.match(document)
        client = gql if token is None else gql.as_token(lookup(token[1][1:-1], answers))
        values = resolve(variables, answers)
        if operation_kind(document) == "subscription":
            # Over HTTP a subscription cannot run; it must still be valid as written.
            assert graphql.validate(sdl, graphql.parse(document)) == []
            continue
        body = await client.post(document, values)
        assert "errors" not in body, (document, body["errors"])
        assert user_errors(body["data"]) == [], (document, body["data"])
        answers.append(body["data"])
        ran.append(document)
    # The latest answer of each root field or alias.
    by_name = {name: value for data in answers for name, value in data.items()}
    assert by_name["viewer"]["displayName"] == "Budi"
    assert by_name["viewer"]["rewards"]["edges"][0]["node"]["kind"] == "REFEREE_WELCOME"
    assert by_name["refundPurchase"]["purchase"]["refundedAmount"] == "50000"
    assert by_name["andi"]["downline"]["totalCount"] == 1
    assert len(ran) == len(examples()) - 1


def test_a_placeholder_no_earlier_answer_has_is_an_error() -> None:
    with pytest.raises(AssertionError, match=r"nothing\.here"):
        resolve({"x": "<nothing.here>"}, [{"createProgram": {}}])


LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_relative_links_of_the_readme_and_docs_lead_to_files() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert len(pages) >= 4
    for page in pages:
        for target in LINK.findall(page.read_text()):
            if "://" in target or target.startswith(("#", "mailto:")):
                continue
            path = (page.parent / target.split("#")[0]).resolve()
            assert path.exists(), f"{page.name} links to missing {target}"
