"""Logging that never records a client address, user agent or referrer."""

from __future__ import annotations

import logging
import sys

from core.config import Config

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(config: Config) -> None:
    """Plain records to stderr; no handler here ever sees the request."""
    root = logging.getLogger()
    if not any(getattr(h, "_komma", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler._komma = True  # type: ignore[attr-defined]
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
