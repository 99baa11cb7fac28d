"""The Chroma client: a server when CHROMA_HOST is set, else a local persistent store."""

import threading

from flask import current_app

_lock = threading.Lock()


def chroma_client():
    """One client per app, created on first use (importing chromadb is slow)."""
    app = current_app._get_current_object()
    client = app.extensions.get("chroma")
    if client is not None:
        return client
    with _lock:
        if "chroma" not in app.extensions:
            import chromadb
            from chromadb.config import Settings

            settings = Settings(anonymized_telemetry=False)
            if app.config["CHROMA_HOST"]:
                client = chromadb.HttpClient(
                    host=app.config["CHROMA_HOST"], port=app.config["CHROMA_PORT"], settings=settings
                )
            else:
                client = chromadb.PersistentClient(path=app.config["CHROMA_PATH"], settings=settings)
            app.extensions["chroma"] = client
    return app.extensions["chroma"]
