"""Logging: one line per event on stderr, tracebacks only at debug level."""

from __future__ import annotations

import logging
import sys

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup(level: str) -> None:
    """Configure the root logger once, at start-up."""
    logging.basicConfig(level=level.upper(), format=_FORMAT, stream=sys.stderr)


def failure(logger: logging.Logger, exc: BaseException, message: str, *args: object) -> None:
    """Log a caught failure as one line (type and text); the traceback follows only at debug level.

    Admins read these logs line by line (journalctl, grep); a multi-line traceback for every
    broken plugin call would bury the events around it.
    """
    logger.error(message + ": %s: %s", *args, type(exc).__name__, exc, exc_info=logger.isEnabledFor(logging.DEBUG))
