"""The execution context of an operation: strawberry's, minus a reference cycle.

graphql-core's executor hands resolvers helpers that are its own bound methods, so every
executor refers to itself, and with it the operation's whole state (collected fields,
variables, the context, the HTTP request and response) lives until a full garbage
collection finds the cycle: some sixty objects per request. Under load those full
collections ran every second for 8-18 ms with the event loop stopped, in the p99 of
recordPurchase. Bound through a weak proxy, the helpers leave the executor to reference
counting, and an operation's state is freed as soon as it is answered.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Sequence
from typing import Any

from graphql.type.definition import GraphQLResolveInfoHelpers
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class AcyclicExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context whose resolver helpers do not keep it alive."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The helpers only run while the operation executes, when the executor is alive.
        executor: StrawberryGraphQLCoreExecutionContext = weakref.proxy(self)

        def gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
            return executor.gather_async_work(values)

        def track(values: Sequence[Any]) -> None:
            executor.track_async_work(values)

        self.async_helpers = GraphQLResolveInfoHelpers(gather=gather, track=track)
