"""Log lines: readable text (the default) or one JSON object per line (RUJUK_LOG_FORMAT=json),
for rujuk's loggers and uvicorn's alike.

A record may carry `fields` (a dict of JSON values, as the request line does): JSON lines
hold them as keys, text lines append them as key=value.
"""

from __future__ import annotations

import json
import logging
import logging.config
import time
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value ...`"""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields: dict[str, Any] | None = getattr(record, "fields", None)
        if fields:
            line += " " + " ".join(f"{key}={value}" for key, value in fields.items())
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, pid, message, the record's fields
    and, for an exception, its traceback as one string."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._stamp = ""

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second:
            # One strftime a second: the request line is written on every request.
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        entry: dict[str, Any] = {
            "time": f"{self._stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        fields: dict[str, Any] | None = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return _encode(entry)


_encode = json.JSONEncoder(ensure_ascii=False, default=str).encode


def logging_config(level: str, log_format: str) -> dict[str, Any]:
    """The dictConfig of the process: one stderr handler on the root logger; uvicorn's loggers
    write through it (rujuk's request line replaces uvicorn's access log)."""
    formatter = JsonFormatter if log_format == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"rujuk": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "rujuk",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level, "handlers": [], "propagate": True},
            # Its lines hold the query string (GraphQL variables over GET); rujuk.access's don't.
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }


def configure_logging(level: str, log_format: str = "text") -> None:
    """Log to stderr at the configured level, in the configured format."""
    logging.config.dictConfig(logging_config(level, log_format))
    # Neither format shows thread or process names; looking them up is a third of a record.
    logging.logThreads = False
    logging.logMultiprocessing = False
