"""Logging of the server process, as a `logging.config.dictConfig` dictionary.

uvicorn applies it (`log_config=`) in the parent and again in every worker process it spawns, so
the `jiayi` loggers — `jiayi.access` (one JSON line per request), `jiayi.error` and the rest — write
to stderr whatever `--workers` is.  Lines of `jiayi.*` are the message alone (the access line is
already structured JSON); uvicorn keeps its own format; uvicorn's access log is off (ours replaces
it).
"""

from __future__ import annotations

import logging
import logging.config
import sys
from typing import Any, TextIO

JIAYI_LOGGER = "jiayi"


class StderrHandler(logging.StreamHandler):
    """A stream handler writing to whatever `sys.stderr` is when a record is emitted, not the
    stream it was when logging was configured: a replaced stream (a test runner's capture, a
    closed pipe of an embedding process) never turns log lines into "--- Logging error ---"."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def logging_config(level: str = "INFO") -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            # The names "default" and "access" are the ones uvicorn looks for (use_colors).
            "default": {
                "()": "uvicorn.logging.DefaultFormatter",
                "fmt": "%(levelprefix)s %(message)s",
                "use_colors": None,
            },
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
            },
            "message": {"format": "%(message)s"},
        },
        "handlers": {
            "uvicorn": {"class": f"{__name__}.StderrHandler", "formatter": "default"},
            "jiayi": {"class": f"{__name__}.StderrHandler", "formatter": "message"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["uvicorn"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            JIAYI_LOGGER: {"handlers": ["jiayi"], "level": level, "propagate": False},
        },
    }


def configure_logging(level: str = "INFO") -> None:
    logging.config.dictConfig(logging_config(level))


def ensure_logging() -> None:
    """Configure the `jiayi` loggers unless something (uvicorn's `log_config`) already has: for a
    worker started by another process manager."""
    if not logging.getLogger(JIAYI_LOGGER).handlers:
        configure_logging()
