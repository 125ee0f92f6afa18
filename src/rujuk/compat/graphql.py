"""graphql-core's executor beyond its public API: the helpers it binds for resolvers.

An answered operation must leave no reference cycle. graphql-core's executor hands
resolvers helpers that are its own bound methods (ExecutionContext.async_helpers, built of
gather_async_work and track_async_work), so every executor refers to itself, and with it the
operation's whole state (collected fields, variables, the context, the HTTP request and
response) lives until a full garbage collection finds the cycle: some sixty objects per
request. Under load those full collections ran every second for 8-18 ms with the event loop
stopped, in the p99 of recordPurchase. Bound through a weak proxy, the helpers leave the
executor to reference counting, and an operation's state is freed as soon as it is answered.

Pinned by tests/compat/test_graphql.py (and, end to end, tests/test_execution.py).
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Sequence
from typing import Any

from graphql import GraphQLResolveInfoHelpers

from rujuk.compat.strawberry import CoreExecutionContext


class AcyclicExecutionContext(CoreExecutionContext):
    """strawberry's execution context whose resolver helpers do not keep it alive."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The helpers only run while the operation executes, when the executor is alive.
        executor: CoreExecutionContext = weakref.proxy(self)

        def gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
            return executor.gather_async_work(values)

        def track(values: Sequence[Any]) -> None:
            executor.track_async_work(values)

        self.async_helpers = GraphQLResolveInfoHelpers(gather=gather, track=track)
