"""Structured logging, configured once per process.

Every line carries the context bound with `bind_event_context` (correlation id, causation id,
event type and id) or by the HTTP middleware (correlation id of the request), so that one
correlation id can be followed from a REST call through every service it reaches. Secrets and
personal data are masked on the way out (`eci_common.log_redaction`).
"""

import logging
import sys
from typing import Any

import structlog

from eci_common.log_redaction import redact
from eci_common.settings import LogSettings

_SHARED_PROCESSORS: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
]


def configure_logging(settings: LogSettings, *, service: str) -> None:
    """Route structlog and the standard library (uvicorn, FastStream, aiokafka) to one renderer."""
    json_output = settings.log_format == "json" or (
        settings.log_format == "auto" and not sys.stderr.isatty()
    )
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json_output
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            *_SHARED_PROCESSORS,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED_PROCESSORS,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,  # last before rendering: every line, tracebacks included
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # FastStream installs its own colored handlers: route its lines through ours instead.
    for name in ("faststream", "faststream.access", "faststream.eci"):
        framework = logging.getLogger(name)
        framework.handlers.clear()
        framework.propagate = True
    # aiokafka reports every failed reconnection at ERROR; our own lines say what matters.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("uvicorn.access").setLevel(max(logging.WARNING, root.level))
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str) -> Any:
    """A structlog logger; `Any` because structlog's bound loggers are dynamically typed."""
    return structlog.stdlib.get_logger(name)
