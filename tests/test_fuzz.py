"""schemathesis (GraphQL mode) against a real `rujuk serve`: no 500s, every error has a code."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from tests.conftest import LiveServer

EXAMPLES = 300
TIME_BUDGET = 45.0


# rujuk's scalars are JSON strings: mostly well-formed values, sometimes any text at all.
schemathesis.graphql.scalar(
    "Decimal",
    st.one_of(st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str), st.text()).map(
        nodes.String
    ),
)
schemathesis.graphql.scalar(
    "DateTime",
    st.one_of(st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat), st.text()).map(
        nodes.String
    ),
)


def check(response: Any) -> None:
    assert response.status_code < 500, response.text[:500]
    body = response.json()
    for error in body.get("errors") or []:
        assert error["extensions"]["code"], body
        assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR", body
        assert "Traceback" not in error["message"], body


async def test_fuzzed_operations_never_crash_the_server(live_server: LiveServer) -> None:
    admin = {"Authorization": f"Bearer {live_server.admin_token}"}
    async with httpx.AsyncClient(base_url=live_server.url, headers=admin) as client:
        created = await client.post(
            "/graphql",
            json={
                "query": 'mutation { createProgram(input: {name: "Fuzz", tiers: [{name: "T", '
                'levelRates: ["0.1"]}]}) { program { id } } }'
            },
        )
        program_id = created.json()["data"]["createProgram"]["program"]["id"]
        minted = await client.post(
            "/graphql",
            json={
                "query": "mutation($p: ID) { createApiToken(input: {role: PARTNER, programId: $p, "
                'label: "fuzz"}) { token } }',
                "variables": {"p": program_id},
            },
        )
    # Mutations run as the partner of a program of their own: the demo data stays as it is.
    partner = {"Authorization": f"Bearer {minted.json()['data']['createApiToken']['token']}"}
    schema = schemathesis.graphql.from_url(f"{live_server.url}/graphql", headers=admin)
    deadline = time.monotonic() + TIME_BUDGET
    seen: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=schema.as_strategy())
    def fuzz(case: Any) -> None:
        if time.monotonic() > deadline:
            return
        label: str = case.operation.label
        seen.append(label)
        check(case.call(headers=partner if label.startswith("Mutation") else admin, timeout=10))

    await asyncio.to_thread(fuzz)
    assert len({label.split(".")[0] for label in seen}) == 2, seen[:5]
    assert len(set(seen)) > 10
