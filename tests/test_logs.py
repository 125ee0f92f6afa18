"""Log lines: readable text by default, one JSON object per line for collectors."""

from __future__ import annotations

import json
import logging
import sys

from rujuk.logs import JsonFormatter, TextFormatter


def record(message: str, *args: object, **fields: object) -> logging.LogRecord:
    made = logging.LogRecord("rujuk.test", logging.WARNING, __file__, 1, message, args, None)
    if fields:
        made.fields = fields
    return made


def test_a_json_line_holds_the_fields_and_a_traceback_on_one_line() -> None:
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        failed = record("request %s failed", "abc")
        failed.exc_info = sys.exc_info()
    line = JsonFormatter().format(failed)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "request abc failed"
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "rujuk.test"
    assert entry["time"].endswith("Z")
    assert "ValueError: boom" in entry["exception"]
    fielded = json.loads(JsonFormatter().format(record("request", requestId="r-1", status=200)))
    assert (fielded["requestId"], fielded["status"]) == ("r-1", 200)


def test_a_text_line_is_readable_with_its_fields_after_the_message() -> None:
    line = TextFormatter().format(record("request", requestId="r-1", durationMs=1.5))
    assert line.endswith("WARNING rujuk.test: request requestId=r-1 durationMs=1.5")
    assert not line.startswith("{")
