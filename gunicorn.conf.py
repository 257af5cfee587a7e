"""gunicorn settings for App Service (and the local run command)."""

import multiprocessing
import os

# PORT: the port App Service (or you) want the app on.
bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# WEB_CONCURRENCY: worker processes (default: 2 per CPU + 1).
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2 + 1)
# GUNICORN_THREADS: threads per worker; requests mostly wait on the database and storage.
threads = int(os.environ.get("GUNICORN_THREADS") or 4)
timeout = 120
graceful_timeout = 30
keepalive = 5
# Access and error logs to stdout/stderr, where App Service's log stream reads them.
accesslog = "-"
errorlog = "-"
# App Service's front end terminates TLS and sets X-Forwarded-*; trust it (FORWARDED_ALLOW_IPS).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
