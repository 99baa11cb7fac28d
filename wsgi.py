"""WSGI entry point: `gunicorn wsgi:app` (see Procfile and `make run`).

On the embedded default (no REDIS_URL) this process also runs the RQ worker
and scheduler threads, so background jobs run without anything else.
"""

from app import create_app
from app.jobs import start_embedded_worker_if_needed

app = create_app()
start_embedded_worker_if_needed(app)
