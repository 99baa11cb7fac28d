"""Configuration from the environment.

Every setting has an embedded default so `make run` works on a laptop with
nothing else installed; production sets DATABASE_URL, REDIS_URL, CHROMA_HOST,
OLLAMA_HOST and a real SECRET_KEY.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", BASE_DIR / "instance"))

# The placeholder key used in development; production refuses to start with it.
DEV_SECRET_KEY = "dev-only-insecure-secret-key-never-use-in-production"


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_int(name: str, default: int) -> int:
    value = env_str(name)
    return int(value) if value is not None else default


def env_bool(name: str, default: bool = False) -> bool:
    value = env_str(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def database_url() -> str:
    url = env_str("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'creator_hub.sqlite3'}")
    # Heroku-style URLs name the driver "postgres"; SQLAlchemy wants psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Config:
    ENV_NAME = "development"
    SECRET_KEY = env_str("SECRET_KEY", DEV_SECRET_KEY)
    SQLALCHEMY_DATABASE_URI = database_url()
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = env_str("REDIS_URL")  # None: in-process fakeredis + worker thread
    CHROMA_HOST = env_str("CHROMA_HOST")  # None: PersistentClient under instance/
    CHROMA_PORT = env_int("CHROMA_PORT", 8000)
    CHROMA_PATH = env_str("CHROMA_PATH", str(INSTANCE_DIR / "chroma"))
    OLLAMA_HOST = env_str("OLLAMA_HOST")  # None: offline extractive fallback
    OLLAMA_TIMEOUT_SECONDS = env_int("OLLAMA_TIMEOUT_SECONDS", 60)
    # Start an RQ worker thread inside the web process (embedded default only).
    EMBEDDED_WORKER = env_bool("EMBEDDED_WORKER", True)

    # Sessions and cookies
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
    WTF_CSRF_TIME_LIMIT = None  # tied to the session instead of a clock
    PREFERRED_URL_SCHEME = env_str("PREFERRED_URL_SCHEME", "http")
    PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL")  # used in e-mailed links when set

    # Tokens (claims as in the service-endpoints guide)
    JWT_SECRET_KEY = env_str("JWT_SECRET_KEY")  # defaults to SECRET_KEY
    JWT_ALGORITHM = "HS256"
    JWT_AUDIENCE = env_str("JWT_AUDIENCE", "coaching-platform")
    JWT_ISSUER = env_str("JWT_ISSUER", "auth-service")
    ACCESS_TOKEN_TTL_SECONDS = env_int("ACCESS_TOKEN_TTL_SECONDS", 15 * 60)
    REFRESH_TOKEN_TTL_SECONDS = env_int("REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600)
    PASSWORD_RESET_TTL_SECONDS = env_int("PASSWORD_RESET_TTL_SECONDS", 3600)

    # Request size: uploads may be large, JSON bodies may not.
    MAX_CONTENT_LENGTH = env_int("MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
    MAX_JSON_BYTES = env_int("MAX_JSON_BYTES", 1024 * 1024)
    # A longer request line (method, URL, protocol) is refused with a JSON 414. gunicorn's own
    # limit (Procfile, Makefile) is 8190, its maximum; past it gunicorn refuses in the same envelope.
    MAX_REQUEST_LINE_BYTES = env_int("MAX_REQUEST_LINE_BYTES", 8190)

    # Chat widget: visitor tokens are short-lived; the widget asks for a new one on reconnect.
    WIDGET_TOKEN_TTL_SECONDS = env_int("WIDGET_TOKEN_TTL_SECONDS", 10 * 60)
    WIDGET_MAX_FRAME_BYTES = env_int("WIDGET_MAX_FRAME_BYTES", 16 * 1024)
    WIDGET_MESSAGES_PER_MINUTE = env_int("WIDGET_MESSAGES_PER_MINUTE", 20)
    WIDGET_FRAMES_PER_MINUTE = env_int("WIDGET_FRAMES_PER_MINUTE", 120)  # any type: pings, typing, ...
    # gunicorn gthread threads per web process (Procfile, Makefile: the same default). Each open
    # widget socket holds one for its lifetime, so a process takes at most WIDGET_MAX_SOCKETS and
    # keeps the other threads for pages and the API; past it a socket is refused (close 1013)
    # and the widget reconnects, possibly to another process.
    WEB_THREADS = env_int("WEB_THREADS", 512)
    WIDGET_MAX_SOCKETS = env_int("WIDGET_MAX_SOCKETS", max(1, WEB_THREADS - 64))
    # The realtime hub pings Redis after this much silence, and resubscribes when it stops answering.
    WIDGET_HUB_HEARTBEAT_SECONDS = env_int("WIDGET_HUB_HEARTBEAT_SECONDS", 30)
    # flask-sock: pings find dead sockets (a closed laptop never says goodbye), so their
    # threads end; a frame over 1 MiB closes the socket before it is held in memory.
    SOCK_SERVER_OPTIONS = {
        "ping_interval": env_int("WIDGET_PING_SECONDS", 25),
        "max_message_size": 1024 * 1024,
    }

    # FAQ entries answer a message this close in meaning (cosine, local MiniLM) to a phrasing.
    FAQ_MATCH_THRESHOLD = float(env_str("FAQ_MATCH_THRESHOLD", "0.80"))
    # Generated answers to context-free questions are reused for this long, until the knowledge changes.
    RESPONSE_CACHE_TTL_SECONDS = env_int("RESPONSE_CACHE_TTL_SECONDS", 7 * 24 * 3600)

    # Twilio (SMS, WhatsApp). Credentials live encrypted on each channel; these only tune sending.
    TWILIO_API_BASE = env_str("TWILIO_API_BASE")  # None: https://api.twilio.com (tests point it at a fake)
    OUTBOX_RETRY_BASE_SECONDS = env_int("OUTBOX_RETRY_BASE_SECONDS", 5)  # backoff after a 429/5xx, doubling
    # The outbox sweep (lost send jobs, sends cut off mid-call, unanswered inbound messages) runs this often,
    # and leaves alone what is younger than the grace (its own job is probably still coming).
    OUTBOX_SWEEP_SECONDS = env_int("OUTBOX_SWEEP_SECONDS", 30)
    OUTBOX_SWEEP_GRACE_SECONDS = env_int("OUTBOX_SWEEP_GRACE_SECONDS", 60)
    # One worker answers an inbound message: its claim lasts longer than any answering job may run.
    OUTBOX_INBOUND_CLAIM_SECONDS = env_int("OUTBOX_INBOUND_CLAIM_SECONDS", 360)
    OUTBOX_INBOUND_JOB_TIMEOUT_SECONDS = env_int("OUTBOX_INBOUND_JOB_TIMEOUT_SECONDS", 300)
    OUTBOX_INBOUND_MAX_AGE_SECONDS = env_int("OUTBOX_INBOUND_MAX_AGE_SECONDS", 24 * 3600)  # older: not answered late

    # Programs: the sweep enqueues steps overdue by more than the grace whose job was lost.
    PROGRAM_SWEEP_SECONDS = env_int("PROGRAM_SWEEP_SECONDS", 30)
    PROGRAM_SWEEP_GRACE_SECONDS = env_int("PROGRAM_SWEEP_GRACE_SECONDS", 15)

    # Knowledge ingestion
    INGEST_JOB_TIMEOUT_SECONDS = env_int("INGEST_JOB_TIMEOUT_SECONDS", 30 * 60)
    # "processing" longer than this = worker died; past the job timeout, so a slow job is never run twice
    INGEST_STALE_SECONDS = env_int("INGEST_STALE_SECONDS", INGEST_JOB_TIMEOUT_SECONDS + 5 * 60)
    # A URL import gives up after this long overall (every redirect, headers and body), however
    # steadily the server trickles bytes: it holds an ingest worker meanwhile.
    URL_IMPORT_DEADLINE_SECONDS = float(env_str("URL_IMPORT_DEADLINE_SECONDS", "30"))
    # Networks a URL import may reach besides the public internet (CIDRs, comma-separated).
    URL_IMPORT_ALLOWED_NETWORKS = [
        n.strip() for n in (env_str("URL_IMPORT_ALLOWED_NETWORKS", "") or "").split(",") if n.strip()
    ]

    # Rate limits per creator (creator-hub-api "Rate Limits"), per IP for auth.
    RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_API_GENERAL = env_str("RATELIMIT_API_GENERAL", "1000 per hour")
    RATELIMIT_API_AI = env_str("RATELIMIT_API_AI", "100 per hour")
    RATELIMIT_API_UPLOADS = env_str("RATELIMIT_API_UPLOADS", "50 per hour")
    RATELIMIT_API_EXPORTS = env_str("RATELIMIT_API_EXPORTS", "10 per day")
    RATELIMIT_WIDGET_SESSIONS = env_str("RATELIMIT_WIDGET_SESSIONS", "60 per minute")  # per visitor IP
    RATELIMIT_AUTH_PER_IP = env_str("RATELIMIT_AUTH_PER_IP", "10 per minute")
    RATELIMIT_LOGIN_PER_ACCOUNT = env_str("RATELIMIT_LOGIN_PER_ACCOUNT", "5 per 15 minutes")

    # Outgoing mail; with no MAIL_SERVER, messages are written to the log.
    MAIL_SERVER = env_str("MAIL_SERVER")
    MAIL_PORT = env_int("MAIL_PORT", 587)
    MAIL_USERNAME = env_str("MAIL_USERNAME")
    MAIL_PASSWORD = env_str("MAIL_PASSWORD")
    MAIL_USE_TLS = env_bool("MAIL_USE_TLS", True)
    MAIL_FROM = env_str("MAIL_FROM", "Creator Hub <no-reply@localhost>")

    PROXY_FIX_HOPS = env_int("PROXY_FIX_HOPS", 0)  # set to 1 behind one reverse proxy
    LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
    SERVICE_NAME = "creator-hub"

    # OpenAPI (flask-smorest); the document is served at /api/v1/openapi.json.
    API_TITLE = "Creator Hub API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"


class DevelopmentConfig(Config):
    DEBUG = False


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    EMBEDDED_WORKER = False  # tests start the worker thread only where they need it
    OUTBOX_SWEEP_SECONDS = 0  # no background sweep over the shared test database unless a test asks
    PROGRAM_SWEEP_SECONDS = 0
    RATELIMIT_API_GENERAL = "10000 per hour"


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    EMBEDDED_WORKER = env_bool("EMBEDDED_WORKER", False)


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def select_config(name: str | None = None):
    return CONFIGS[name or env_str("APP_ENV", "development")]
