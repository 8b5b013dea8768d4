"""Logging that never records a client address, user agent or referrer."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from core.config import Config

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class StderrHandler(logging.StreamHandler[TextIO]):
    """The handler configure() installs, recognisable when it is called again."""


def configure(config: Config) -> None:
    """Plain records to stderr; no handler here ever sees the request."""
    root = logging.getLogger()
    if not any(isinstance(h, StderrHandler) for h in root.handlers):
        handler = StderrHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
    root.setLevel(logging.INFO if config.production else logging.DEBUG)
    # Werkzeug's request log starts with the client address: it is replaced by core.devserver.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    for noisy in ("rq.worker", "rq.scheduler", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.INFO)
    # redis-py logs a notice per connection at DEBUG; it says nothing useful here.
    logging.getLogger("redis").setLevel(logging.WARNING)
    # Pillow logs the EXIF and text chunks of every uploaded image it decodes at DEBUG: the
    # reporter's metadata (names, places, GPS) would land in the log.
    logging.getLogger("PIL").setLevel(logging.INFO)
