"""`python -m bench.profile FILE...`: a py-spy profile of a server under load, as shares.

Record one with py-spy (a test extra) while a bench load runs, e.g.
`py-spy record --pid PID --duration 30 --rate 250 --nonblocking --format raw -o FILE`.
Each sample is charged to the first part of the request it is in, looking from the
innermost frame outwards (a statement sent by the group commit counts as the group
commit's; json.dumps inside the endpoint's encode_json as JSON encoding). Prints each
part's share of the samples in which the process ran.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# (part, pattern on a frame "function (file:line)"), first match from the leaf outwards.
PARTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("garbage collection", r"^<gc>|\(gc\)"),
        ("JSON encoding", r"encode_json|orjson|json/encoder|json/__init__\.py.*dumps"),
        ("JSON decoding", r"json/decoder|json/__init__\.py.*loads|orjson.*loads"),
        ("parsing and validation", r"graphql/language/|graphql/validation/|guard\.py"),
        ("cost extension", r"rujuk/schema/cost\.py"),
        ("rate limit", r"rujuk/rate_limit\.py"),
        ("error codes (masking)", r"rujuk/schema/errors\.py"),
        ("request id, metrics, access log", r"rujuk/observe\.py|rujuk/metrics\.py|prometheus"),
        (
            "permission checks (token, principal)",
            r"rujuk/access\.py|services/tokens\.py|caller_cache\.py|hmac|hashlib",
        ),
        ("graph update", r"rujuk/graph/|networkx"),
        (
            "group commit and purchase SQL",
            r"group_commit\.py|purchase_writer\.py|rujuk/db/purchases\.py",
        ),
        ("other services and SQL", r"rujuk/services/|rujuk/db/"),
        ("asyncpg (driver)", r"asyncpg/"),
        ("resolvers and types", r"rujuk/resolvers/|rujuk/schema/"),
        ("strawberry execution", r"graphql/execution/|graphql/pyutils|strawberry/"),
        ("starlette and the endpoint", r"starlette/|rujuk/app\.py"),
        ("uvicorn and HTTP parsing", r"uvicorn/|httptools|h11"),
        ("event loop", r"asyncio/|uvloop"),
    )
)
IDLE = re.compile(r"select \(selectors|epoll|_run_once|run_forever .*uvloop|\(uvloop/loop")


def shares(lines: list[str]) -> tuple[Counter[str], int]:
    """Samples per part, and the samples counted (idle waits in the event loop left out)."""
    parts: Counter[str] = Counter()
    counted = 0
    for line in lines:
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        count = int(count_text)
        if IDLE.search(frames[-1]):
            continue
        counted += count
        for frame in reversed(frames):
            part = next((name for name, pattern in PARTS if pattern.search(frame)), None)
            if part is not None:
                parts[part] += count
                break
        else:
            parts["other"] += count
    return parts, counted


def main() -> None:
    """Print each profile's breakdown."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("files", nargs="+", type=Path)
    for path in parser.parse_args().files:
        parts, counted = shares(path.read_text().splitlines())
        print(f"{path.name}: {counted} samples with the process running")
        for name, samples in parts.most_common():
            print(f"  {100 * samples / counted:5.1f} %  {name}")


if __name__ == "__main__":
    main()
