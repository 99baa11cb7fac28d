"""WSGI entry point: `gunicorn --worker-class app.serving.WebWorker wsgi:app` (Procfile, `make run`).

Importing this module only builds the app, so `flask --app wsgi db upgrade` works on
a new database. On the embedded default (no REDIS_URL) the serving process also
runs the RQ worker threads and scheduler: gunicorn's WebWorker starts them once the
app is loaded, any other server with its first request.
"""

from app import create_app

app = create_app()
