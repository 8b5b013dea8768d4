"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py wsgi:app`."""

import multiprocessing
import os

bind = os.environ.get("KOMMA_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("KOMMA_WEB_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = 2
timeout = 60
# No access log: gunicorn's default format starts with the client address (%(h)s) and
# carries user agent and referrer. Errors still go to the error log without request data.
accesslog = None
disable_redirect_access_to_syslog = True
errorlog = "-"
loglevel = "info"
# Behind the reverse proxy; X-Forwarded-For is never read by the app.
forwarded_allow_ips = "127.0.0.1"
limit_request_line = 4094
limit_request_fields = 60
