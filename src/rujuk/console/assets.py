"""The built console bundle on disk, and the static route that serves it."""

from __future__ import annotations

import hashlib
import mimetypes
import os
from dataclasses import dataclass
from pathlib import Path

from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent / "static"
SCRIPT_NAME = "console.js"
STYLESHEET_NAME = "console.css"

# Long enough that browsers keep the 5 MB bundle; safe because the page links
# it with ?v=<digest>, which changes with every build.
_IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Bundle:
    """The entry files of a build and a digest that changes with each build."""

    script: Path
    stylesheet: Path
    digest: str


def find_bundle(static_dir: Path = STATIC_DIR) -> Bundle | None:
    """The built bundle in ``static_dir``, or None when the build has not run.

    Looked up on every page render (two stat calls) so a build finished after
    the server started is picked up without a restart.
    """
    script = static_dir / SCRIPT_NAME
    stylesheet = static_dir / STYLESHEET_NAME
    try:
        stats = [script.stat(), stylesheet.stat()]
    except OSError:
        return None
    # Size and mtime identify a build well enough for cache busting, without
    # reading megabytes on each request.
    fingerprint = ";".join(f"{s.st_size}:{s.st_mtime_ns}" for s in stats)
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
    return Bundle(script=script, stylesheet=stylesheet, digest=digest)


class ConsoleStaticFiles(StaticFiles):
    """StaticFiles that serves the build's pre-compressed ``.gz`` siblings.

    The bundle is several megabytes of JavaScript; gzip makes it about a
    quarter of that, and compressing once at build time costs nothing per
    request.
    """

    def __init__(self, *, directory: str | os.PathLike[str]) -> None:
        # No check_dir: the directory appears only once the asset build runs,
        # perhaps after the server started.
        super().__init__(directory=directory, check_dir=False)

    async def check_config(self) -> None:
        """Accept a missing directory, for the same reason as in ``__init__``."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        """Serve ``<file>.gz`` when the client accepts gzip and it exists."""
        request_headers = Headers(scope=scope)
        path = os.fspath(full_path)
        media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        if media_type in ("text/javascript", "application/javascript", "text/css"):
            media_type += "; charset=utf-8"
        headers = {
            "Vary": "Accept-Encoding",
            "Cache-Control": _IMMUTABLE if b"v=" in scope.get("query_string", b"") else "no-cache",
        }
        gz_path = path + ".gz"
        response: Response
        if "gzip" in request_headers.get("accept-encoding", "") and os.path.isfile(gz_path):
            headers["Content-Encoding"] = "gzip"
            response = FileResponse(
                gz_path,
                status_code=status_code,
                media_type=media_type,
                headers=headers,
                stat_result=os.stat(gz_path),
            )
        else:
            response = FileResponse(
                path,
                status_code=status_code,
                media_type=media_type,
                headers=headers,
                stat_result=stat_result,
            )
        if self.is_not_modified(response.headers, request_headers):
            return Response(status_code=304, headers=_not_modified_headers(response.headers))
        return response


def _not_modified_headers(headers: Headers) -> dict[str, str]:
    keep = ("cache-control", "content-location", "date", "etag", "expires", "vary")
    return {name: value for name, value in headers.items() if name in keep}
