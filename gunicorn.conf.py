"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py wsgi:app`, behind nginx (deploy/)."""

import multiprocessing
import os
import sys

# The address deploy/nginx/komma-site.conf's upstream names; deploy/prod_local.py sets its own.
bind = os.environ.get("KOMMA_BIND", "127.0.0.1:8000")
# Threads: a request waiting for PostgreSQL or an Argon2id derivation (which releases the GIL)
# leaves the others running. Processes: the Python part of each request needs a core of its own.
worker_class = "gthread"
workers = int(os.environ.get("KOMMA_WEB_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("KOMMA_WEB_THREADS", 4))
# nginx reads whole requests before passing them on, so a thread only ever waits for the app,
# never for a slow client. A worker whose main loop stops answering for this long is replaced.
timeout = 60
# On SIGTERM (systemctl stop/restart) and when a worker is recycled: time for submissions in
# flight to finish their derivation and commit. komma-web.service's TimeoutStopSec is above it.
graceful_timeout = 30
# nginx opens one connection per request; a short keepalive only covers direct callers.
keepalive = 2
# Recycle each worker after about this many requests (the jitter keeps them from all restarting
# at once), so memory lost to fragmentation (64 MiB per derivation) is handed back.
max_requests = 1000
max_requests_jitter = 100
# The app is built once in the master and forked: a broken configuration stops the master
# (and systemd says so) instead of a loop of dying workers, and a recycled worker starts at once.
preload_app = True
# The heartbeat file on tmpfs: a slow disk must not make a healthy worker look stuck.
# (gunicorn creates and unlinks a private file there: S108's predictable-name risk does not apply.)
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# No access log: gunicorn's default format starts with the client address (%(h)s) and
# carries user agent and referrer. Errors still go to the error log without request data.
accesslog = None
disable_redirect_access_to_syslog = True
errorlog = "-"
loglevel = "info"
# Behind the reverse proxy; X-Forwarded-For is never read by the app (and nginx sends none).
forwarded_allow_ips = "127.0.0.1"
limit_request_line = 4094
limit_request_fields = 60
# gunicorn's control socket (~/.gunicorn/gunicorn.ctl) is not used; two instances on one host
# (web and a bench, or several tests) would fight over that one path.
control_socket_disable = True


def post_fork(server: object, worker: object) -> None:
    """Each worker opens its own database connections: pooled ones copied by fork belong to the master."""
    # The app preloaded from wsgi.py; another app run with these settings (a bench) has none.
    app = getattr(sys.modules.get("wsgi"), "app", None)
    komma = getattr(app, "extensions", {}).get("komma")
    if komma is not None:
        komma.engine.dispose(close=False)
