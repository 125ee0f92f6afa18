"""Apollo's automatic persisted queries, and the allow-list mode that runs only registered
documents.

A client sends `extensions.persistedQuery = {version: 1, sha256Hash}` without the query; an
unknown hash gets PERSISTED_QUERY_NOT_FOUND (message "PersistedQueryNotFound", the pair
Apollo's link waits for), and the link sends the query with its hash, which registers it
here. Documents registered by the operator (`rujuk persisted-queries add`) live in
PostgreSQL; those registered by clients live in each worker's bounded memory only.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from rujuk.db import persisted_queries as queries
from rujuk.db.pool import Pool
from rujuk.errors import RequestError

# Documents per worker; an entry is the document's text (at most 32 KiB, usually well under).
CACHE_SIZE = 1000
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
MANIFEST_FORMAT = "apollo-persisted-query-manifest"


class PersistedQueryNotFound(RequestError):
    """A hash without its document that this worker does not know."""

    code = "PERSISTED_QUERY_NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("PersistedQueryNotFound")


class DocumentCache:
    """Documents by hash, the least recently used dropped beyond capacity."""

    def __init__(self, capacity: int = CACHE_SIZE) -> None:
        self.capacity = capacity
        self._documents: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._documents)

    def get(self, sha256: str) -> str | None:
        document = self._documents.get(sha256)
        if document is not None:
            self._documents.move_to_end(sha256)
        return document

    def put(self, sha256: str, document: str) -> None:
        self._documents[sha256] = document
        self._documents.move_to_end(sha256)
        if len(self._documents) > self.capacity:
            self._documents.popitem(last=False)


def sha256_of(document: str) -> str:
    """The hash Apollo's link sends: SHA-256 of the document's exact text, in hex."""
    return hashlib.sha256(document.encode("utf-8", "surrogatepass")).hexdigest()


class PersistedQueries:
    """One worker's persisted documents and the mode it runs in."""

    def __init__(self, mode: str, capacity: int = CACHE_SIZE) -> None:
        # "auto" (clients register documents) or "only" (the operator's documents alone run).
        self.mode = mode
        self.cache = DocumentCache(capacity)

    async def document(
        self, pool: Pool, query: str | None, extensions: Mapping[str, Any] | None
    ) -> str | None:
        """The query text to run for a request's query and extensions; raises RequestError
        (PERSISTED_QUERY_*) when there is none to run. None: no query at all (the caller's
        usual refusal applies)."""
        persisted = None if extensions is None else extensions.get("persistedQuery")
        if persisted is None:
            if self.mode == "only" and query:
                await self._registered(pool, sha256_of(query), query)
            return query
        sha256 = _requested_hash(persisted)
        if not query:
            found = self.cache.get(sha256)
            if found is None:
                found = await queries.find_document(pool, sha256)
                if found is None:
                    raise PersistedQueryNotFound
                self.cache.put(sha256, found)
            return found
        if sha256_of(query) != sha256:
            raise RequestError(
                "extensions.persistedQuery.sha256Hash is not the SHA-256 of the query",
                "PERSISTED_QUERY_HASH_MISMATCH",
            )
        if self.mode == "only":
            await self._registered(pool, sha256, query)
        else:
            self.cache.put(sha256, query)
        return query

    async def _registered(self, pool: Pool, sha256: str, query: str) -> None:
        """Refuse a document the operator has not registered (allow-list mode)."""
        if self.cache.get(sha256) is not None:
            return
        if await queries.find_document(pool, sha256) != query:
            raise RequestError(
                "only registered documents run on this server (RUJUK_PERSISTED_QUERIES=only);"
                " an operator registers them with `rujuk persisted-queries add`",
                "PERSISTED_QUERY_NOT_ALLOWED",
            )
        self.cache.put(sha256, query)


def _requested_hash(persisted: object) -> str:
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise RequestError(
            "extensions.persistedQuery must be {version: 1, sha256Hash}", "PERSISTED_QUERY_INVALID"
        )
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or SHA256_HEX.fullmatch(sha256) is None:
        raise RequestError(
            "extensions.persistedQuery.sha256Hash must be 64 lowercase hexadecimal digits",
            "PERSISTED_QUERY_INVALID",
        )
    return sha256


def documents_in(text: str) -> list[tuple[str, str, str | None]]:
    """(sha256, document, name) of each document in a file: an Apollo persisted-query
    manifest (JSON), or else the file's text as one document. Raises RequestError when a
    manifest's id is not its body's hash."""
    try:
        manifest = json.loads(text)
    except ValueError:
        return [(sha256_of(text), text, None)]
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise RequestError(f"a JSON file must be a {MANIFEST_FORMAT} (version 1)")
    found: list[tuple[str, str, str | None]] = []
    for operation in manifest.get("operations") or []:
        body, name = operation.get("body"), operation.get("name")
        if not isinstance(body, str) or not body:
            raise RequestError("every operation of the manifest needs a body")
        sha256 = sha256_of(body)
        if operation.get("id", sha256) != sha256:
            raise RequestError(
                f"operation {name!r}: id {operation.get('id')!r} is not the SHA-256 of its body",
                "PERSISTED_QUERY_HASH_MISMATCH",
            )
        found.append((sha256, body, name if isinstance(name, str) else None))
    return found
