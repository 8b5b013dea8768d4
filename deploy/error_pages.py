"""Renders the calm error pages nginx serves itself (413, gateway errors) with the app's templates.

nginx answers a body over client_max_body_size before the app sees the request, and answers for
gunicorn when it is down. So that a person still sees the app's page (same text, same layout,
German or English), the app renders those pages once into a folder that nginx serves:

    python -m deploy.error_pages /var/lib/komma/pages

writes komma-errors/413.html, 413.en.html, 503.html and 503.en.html there (komma-web.service does
so at each start; deploy/prod_local.py into its work dir). The app is built with a throwaway
development configuration: the pages need no database, secret or queue.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

# The statuses nginx answers itself; 502 and 504 are shown as 503 (gunicorn not answering).
STATUSES = (413, 503)
# German as for a browser preferring it (plain links); English as explicitly chosen, so that its
# links (start page, footer) keep ?lang=en as the app's own pages do.
REQUESTS = {"": ("/", "de"), ".en": ("/?lang=en", "en")}
FOLDER = "komma-errors"


def render(root: Path) -> list[Path]:
    """Write the pages below root/komma-errors/; returns the files written."""
    from flask import render_template

    from core import create_app
    from core.config import Config
    from core.errors import messages

    written: list[Path] = []
    folder = root / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="komma-pages-") as instance:
        # An in-memory SQLite URL: create_app builds an engine but rendering never connects.
        config = Config.from_env({}, instance_path=Path(instance), database_url="sqlite://")
        app = create_app(config)
        for suffix, (path, language) in REQUESTS.items():
            with app.test_request_context(path, headers={"Accept-Language": language}):
                app.preprocess_request()
                for status in STATUSES:
                    title, message = messages()[status]
                    page = render_template("errors/error.html", status=status, title=title, message=message)
                    path = folder / f"{status}{suffix}.html"
                    # Written whole, then renamed: nginx never serves a half-written page.
                    partial = path.with_suffix(".tmp")
                    partial.write_text(page, encoding="utf-8")
                    partial.chmod(0o644)
                    partial.replace(path)
                    written.append(path)
        app.extensions["komma"].engine.dispose()
    return written


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m deploy.error_pages FOLDER")
    for path in render(Path(sys.argv[1])):
        print(path)


if __name__ == "__main__":
    main()
