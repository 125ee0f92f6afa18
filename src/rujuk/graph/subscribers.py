"""Who follows a program's graph events in this process (the GraphQL subscriptions)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from rujuk.graph.events import GraphEvent

EventListener = Callable[[int, GraphEvent], None]


class Subscribers:
    """The listeners of each program's applied events, called in the applying task."""

    def __init__(self) -> None:
        self._listeners: dict[int, set[EventListener]] = defaultdict(set)

    def subscribe(self, program_id: int, listener: EventListener) -> Callable[[], None]:
        """Call listener with each event of the program applied from now on; return unsubscribe."""
        self._listeners[program_id].add(listener)
        return lambda: self._listeners[program_id].discard(listener)

    def listener_count(self, program_id: int) -> int:
        """How many listeners follow the program's events now."""
        return len(self._listeners.get(program_id, ()))

    def publish(self, program_id: int, version: int, event: GraphEvent) -> None:
        """Hand an applied event to the program's listeners."""
        listeners = self._listeners.get(program_id)
        if listeners:
            for listener in list(listeners):
                listener(version, event)
