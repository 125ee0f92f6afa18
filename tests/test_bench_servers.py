"""The bench's CPU counters (bench/servers.py): a process that ends between two readings
still counts, as a PostgreSQL backend that exits mid-window must (its time moves to the
parent that waited for it); before, such a window could read negative."""

from __future__ import annotations

import os
import subprocess
import sys

from bench.servers import _cpu_seconds


def test_a_child_that_ended_still_counts() -> None:
    me = os.getpid()

    def mine(pid: int, _ppid: int, _pgid: int) -> bool:
        return pid == me

    before = _cpu_seconds(mine)
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import time\nend = time.process_time() + 0.5\nwhile time.process_time() < end: pass",
        ],
        check=True,
    )
    assert child.returncode == 0
    assert _cpu_seconds(mine) - before >= 0.45
