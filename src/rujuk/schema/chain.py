"""Several schema extensions run as one.

strawberry prepares every hook of every extension for each request and phase (an
inspection and a new context manager each, about 5 µs apiece): six extensions cost it 24
preparations per request, more than validating a cached document. A chain is one
extension whose hooks run its members' hooks, nested in order, as strawberry would.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from typing import Any, cast

from strawberry.extensions import SchemaExtension

_HOOKS = ("on_operation", "on_parse", "on_validate", "on_execute")

# (extension class, hook name) -> the hook as a context manager factory, or None.
_Enter = Callable[[SchemaExtension], contextlib.AbstractContextManager[None]]
_prepared: dict[tuple[type[SchemaExtension], str], _Enter | None] = {}


def _prepare(kind: type[SchemaExtension], name: str) -> _Enter | None:
    key = (kind, name)
    if key not in _prepared:
        hook = getattr(kind, name)
        if hook is getattr(SchemaExtension, name):
            _prepared[key] = None
        elif inspect.isgeneratorfunction(hook):
            _prepared[key] = contextlib.contextmanager(hook)
        else:
            raise TypeError(f"{kind.__name__}.{name} must be a generator (sync, yield once)")
    return _prepared[key]


class ExtensionChain(SchemaExtension):
    """Run the members' hooks in order (and unwind them in reverse), as one extension."""

    def __init__(self, *members: SchemaExtension) -> None:
        self.members = members
        self._entries = {
            name: [
                (member, enter)
                for member in members
                if (enter := _prepare(type(member), name)) is not None
            ]
            for name in _HOOKS
        }

    def _run(self, name: str) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for member, enter in self._entries[name]:
                stack.enter_context(enter(member))
            yield

    def on_operation(self) -> Iterator[None]:
        for member in self.members:
            member.execution_context = self.execution_context
        yield from self._run("on_operation")

    def on_parse(self) -> Iterator[None]:
        yield from self._run("on_parse")

    def on_validate(self) -> Iterator[None]:
        yield from self._run("on_validate")

    def on_execute(self) -> Iterator[None]:
        yield from self._run("on_execute")

    def on_stream_result(self, result: Any) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for member in self.members:
                hook = type(member).on_stream_result
                if hook is not SchemaExtension.on_stream_result:
                    enter = contextlib.contextmanager(
                        cast(Callable[[SchemaExtension, Any], Iterator[None]], hook)
                    )
                    stack.enter_context(enter(member, result))
            yield

    def get_results(self) -> dict[str, Any]:
        results: dict[str, Any] = {}
        for member in self.members:
            found = member.get_results()
            assert isinstance(found, dict), "members' results must not be awaitable"
            results.update(found)
        return results
