"""mcma settings: every value comes from the environment or `.env`, read once here.

Nothing exists only in production: each difference is an environment variable whose default suits the embedded
set-up (SQLite, a filesystem broker and media under ./data).
"""

from __future__ import annotations

import errno
import os
import re
import sys
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from mcma import instance_secrets

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# ---------------------------------------------------------------------------------------------------------------
# Core
# ---------------------------------------------------------------------------------------------------------------
# Off unless asked for: the embedded default is a real deployment, and DEBUG pages list every URL and setting.
DEBUG = env.bool("DEBUG", default=False)
TESTING = env.bool("MCMA_TESTING", default="pytest" in sys.modules)

# The data dir holds the SQLite file, the embedded broker's queue, managed media and the generated secrets.
MCMA_DATA_DIR = Path(env.str("MCMA_DATA_DIR", default=str(BASE_DIR / "data"))).expanduser().resolve()
try:
    # Created here so that the first `migrate` on a fresh machine can open the SQLite file and keep its secrets.
    MCMA_DATA_DIR.mkdir(parents=True, exist_ok=True)
    if not os.access(MCMA_DATA_DIR, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, "Permission denied")
except OSError as _exc:
    raise SystemExit(
        f"mcma: the data dir {MCMA_DATA_DIR} cannot be written ({_exc.strerror}); "
        "set MCMA_DATA_DIR to a writable folder or fix its owner and permissions"
    ) from None

# Signing and encryption keys: the environment's, else generated once and kept in the data dir (never a value
# from this repository). JWT_SIGNING_KEY signs API tokens, SUBSONIC_SECRET_KEY encrypts stored app-passwords.
_secrets = instance_secrets.load(MCMA_DATA_DIR, os.environ)
SECRET_KEY = _secrets["SECRET_KEY"]
SUBSONIC_SECRET_KEY = _secrets["SUBSONIC_SECRET_KEY"]
JWT_SIGNING_KEY = _secrets["JWT_SIGNING_KEY"]

# Host names answered (mcma.hosts): Django patterns, plus `lan` for any IP address, single-label or .local name
# and this machine's hostname, so a phone on the LAN works with nothing set. Pin it behind a domain.
MCMA_ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["lan"])
# mcma.hosts checks every request first, with the rule above; Django's own check would only repeat it.
ALLOWED_HOSTS = ["*"]
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "mcma.apps.McmaAdminConfig",  # the admin, with mcma's dashboard, search and downloads pages
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "accounts",
    "library",
    "sources",
    "downloads",
    "subsonic",
]

MIDDLEWARE = [
    "mcma.hosts.HostValidationMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mcma.urls"
WSGI_APPLICATION = "mcma.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "mcma" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# ---------------------------------------------------------------------------------------------------------------
# Storage: the data dir holds the SQLite file, the embedded broker's queue and managed media
# ---------------------------------------------------------------------------------------------------------------
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(MCMA_DATA_DIR / "media"))).expanduser().resolve()
MEDIA_URL = "/media/"  # never served directly: audio goes out only through authorising views
STATIC_URL = "/static/"
STATIC_ROOT = MCMA_DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "mcma" / "static"]
# collectstatic fills it; it exists from the start so that WhiteNoise does not warn about it in every process.
STATIC_ROOT.mkdir(exist_ok=True)
# WhiteNoise serves the admin's and Swagger UI's assets from the app itself (compressed, with hashed names and
# far-future caching), so gunicorn needs no reverse proxy. The manifest exists only after collectstatic, which
# `make run` runs; tests render templates without it.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}


def _size_setting(name: str, default: str) -> int:
    """A size in bytes, or with K/M/G/T (binary multiples)."""
    found = re.fullmatch(r"(\d+)\s*([KMGT]?)(?:I?B)?", env.str(name, default="") or default, re.I)
    if found is None:
        raise SystemExit(f"mcma: {name} must be a size like 500M or 2G")
    return int(found[1]) * 1024 ** " KMGT".index(found[2].upper() or " ")


# Cached derived files (resized covers, transcodes) that can always be rebuilt.
MCMA_CACHE_DIR = Path(env.str("MCMA_CACHE_DIR", default=str(MCMA_DATA_DIR / "cache"))).expanduser().resolve()
# Covers of external items (YouTube Music thumbnails, with their resized copies) kept under the cache dir, least
# recently used dropped first.
REMOTE_COVER_CACHE_SIZE = _size_setting("REMOTE_COVER_CACHE_SIZE", "200M")
# Covers with more pixels are not resized: 25 MP (5000x5000) decodes to at most 100 MB, and real scans are smaller.
COVER_MAX_PIXELS = env.int("COVER_MAX_PIXELS", default=25_000_000)

# One cache shared by every web and worker process (login throttles, source pauses, search results). The
# embedded default is a folder cache under the data dir; set CACHE_URL=redis://… in production. Tests use
# a per-process memory cache so runs never see each other's counters.
CACHES = {
    "default": env.cache_url(
        "CACHE_URL",
        default="locmemcache://" if TESTING else f"filecache://{MCMA_DATA_DIR / 'cache' / 'django'}",
    )
}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # A hung Redis must cost a request seconds, not a thread: every cache call is bounded.
    _cache_timeout = env.float("CACHE_SOCKET_TIMEOUT", default=1.0)
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {"socket_timeout": _cache_timeout, "socket_connect_timeout": _cache_timeout}
    )

DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{MCMA_DATA_DIR / 'mcma.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; the busy timeout rides out a scan's batch commit
    # but stays short enough that a request waiting on a stuck writer fails (503) instead of holding a thread.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": env.float("DATABASE_BUSY_TIMEOUT", default=5.0),
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # An unreachable or hung server fails a request within seconds (503) instead of holding a web thread.
    # A statement running longer than this is cancelled by the server itself; a worker needing more sets
    # DATABASE_STATEMENT_TIMEOUT in its own environment (0 = no limit).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "connect_timeout": env.int("DATABASE_CONNECT_TIMEOUT", default=3),
            "options": f"-c statement_timeout={env.int('DATABASE_STATEMENT_TIMEOUT', default=30) * 1000}",
        }
    )

# ---------------------------------------------------------------------------------------------------------------
# Accounts and passwords
# ---------------------------------------------------------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# ---------------------------------------------------------------------------------------------------------------
# Security headers. A home server is reached over plain HTTP on the LAN, where secure-only cookies would make
# logging in impossible; HTTPS=true (served over TLS, directly or behind a proxy) turns on redirects, secure
# cookies and HSTS. Behind a TLS proxy also set USE_X_FORWARDED_PROTO=true.
# ---------------------------------------------------------------------------------------------------------------
HTTPS = env.bool("HTTPS", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=HTTPS)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=HTTPS)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=HTTPS)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Preload-list submission binds every subdomain of the owner's domain for good: their call, not a default.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Health probes come over plain HTTP from the orchestrator.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# ---------------------------------------------------------------------------------------------------------------
# REST API
# ---------------------------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "accounts.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "mcma.api_errors.exception_handler",
    # Throttles key on REMOTE_ADDR unless told how many proxies append to X-Forwarded-For (a client-set XFF
    # would otherwise give each request a fresh bucket).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "DEFAULT_THROTTLE_RATES": {
        "login_ip": env.str("LOGIN_THROTTLE_IP", default="20/min"),
        "login_user": env.str("LOGIN_THROTTLE_USER", default="10/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "mcma API",
    "DESCRIPTION": "Native REST API of mcma, a self-hosted music service.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a `state` field with different choices: name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "DownloadJobStateEnum": "downloads.models.JobState",
        "ScanRunStateEnum": "sources.models.ScanState",
        "TranscodeFormatEnum": "accounts.models.TranscodeFormat",
    },
}
SIMPLE_JWT = {
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "ALGORITHM": "HS256",
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    # Access tokens carry a hash of the password hash: changing the password revokes them at once.
    "CHECK_REVOKE_TOKEN": True,
}

# ---------------------------------------------------------------------------------------------------------------
# Celery: the default broker is kombu's filesystem transport under the data dir, so nothing else needs to run
# ---------------------------------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
# Seconds a broker call may wait for the network (Redis); a web request publishes at most twice (see below).
BROKER_SOCKET_TIMEOUT = env.float("BROKER_SOCKET_TIMEOUT", default=2.0)
CELERY_BROKER_DIR = MCMA_DATA_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        # The default is "control" relative to the working directory, which litters the checkout.
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
    # kombu's filesystem transport does not create its folders; whichever process publishes first needs them.
    (CELERY_BROKER_DIR / "queue").mkdir(parents=True, exist_ok=True)
    (CELERY_BROKER_DIR / "processed").mkdir(parents=True, exist_ok=True)
    (CELERY_BROKER_DIR / "control").mkdir(parents=True, exist_ok=True)
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Must exceed the longest task; long waits live in the database, never in a countdown.
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
        # A hung broker (it accepts, never answers) must fail a publish in seconds, not hold a web thread: the
        # request keeps its database row and the periodic sweeps send it once the broker answers again.
        "socket_timeout": BROKER_SOCKET_TIMEOUT,
        "socket_connect_timeout": BROKER_SOCKET_TIMEOUT,
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = BROKER_SOCKET_TIMEOUT
# One quick retry of a publish (a broker restart), then the caller's fallback: the row stays queued for a sweep.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
CELERY_TIMEZONE = "UTC"
# Scans are recovered like downloads (sources.services): a running scan writes its heartbeat every
# SCAN_HEARTBEAT_SECONDS; the sweep fails one silent for SCAN_STALE_AFTER_SECONDS (its worker died) and re-sends
# a queued scan the broker did not take, or took more than SCAN_REENQUEUE_AFTER_SECONDS ago.
SCAN_HEARTBEAT_SECONDS = env.float("SCAN_HEARTBEAT_SECONDS", default=5.0)
SCAN_STALE_AFTER_SECONDS = env.int("SCAN_STALE_AFTER_SECONDS", default=90)
SCAN_REENQUEUE_AFTER_SECONDS = env.int("SCAN_REENQUEUE_AFTER_SECONDS", default=120)
SCAN_SWEEP_SECONDS = env.float("SCAN_SWEEP_SECONDS", default=30.0)
CELERY_BEAT_SCHEDULE_FILENAME = str(MCMA_DATA_DIR / "celerybeat-schedule")
# Scans have a queue of their own, for a worker whose tasks run in its main process (`--pool solo`, as
# scripts/run.sh starts it): a prefork pool's children are daemonic, may not fork, and read files in one thread.
SCAN_QUEUE = env.str("SCAN_QUEUE", default="scans")
CELERY_TASK_ROUTES = {"sources.scan_run": {"queue": SCAN_QUEUE}}

# ---------------------------------------------------------------------------------------------------------------
# Library
# ---------------------------------------------------------------------------------------------------------------
# Leading articles ignored when sorting and indexing artists and albums (as Subsonic's ignoredArticles).
LIBRARY_IGNORED_ARTICLES = env.list(
    "LIBRARY_IGNORED_ARTICLES", default=["The", "A", "An", "Les", "La", "Le", "Die", "Das", "El"]
)
# Subsonic clients (substrings of the `c` parameter) that get plain 1.16.1 output without OpenSubsonic fields
# (DSub's parser mistakes nested OpenSubsonic elements for top-level ones), or songs reduced to id and title.
SUBSONIC_LEGACY_CLIENTS = env.list("SUBSONIC_LEGACY_CLIENTS", default=["DSub"])
SUBSONIC_MINIMAL_CLIENTS = env.list("SUBSONIC_MINIMAL_CLIENTS", default=["SubMusic"])

# ---------------------------------------------------------------------------------------------------------------
# Transcoding (library.transcoding): ffmpeg encodes while it streams; each process bounded
# ---------------------------------------------------------------------------------------------------------------
# What a player gets when it limits the bitrate without naming a format (opus: the best quality per bit).
TRANSCODE_DEFAULT_FORMAT = env.str("TRANSCODE_DEFAULT_FORMAT", default="opus")
if TRANSCODE_DEFAULT_FORMAT not in ("mp3", "opus", "aac", "flac"):
    raise SystemExit(f"mcma: TRANSCODE_DEFAULT_FORMAT must be mp3, opus, aac or flac, not {TRANSCODE_DEFAULT_FORMAT!r}")
TRANSCODE_MAX_PROCESSES = env.int("TRANSCODE_MAX_PROCESSES", default=4)  # per web process
TRANSCODE_MAX_PER_USER = env.int("TRANSCODE_MAX_PER_USER", default=2)
TRANSCODE_QUEUE_SECONDS = env.float("TRANSCODE_QUEUE_SECONDS", default=5.0)  # a request waits this long for a slot
TRANSCODE_MIN_CEILING_SECONDS = env.int("TRANSCODE_MIN_CEILING_SECONDS", default=600)  # or 3x the song, if longer
# How long the transcodeParams of a getTranscodeDecision answer stay good (seconds; Navidrome's tokens last 48 h).
TRANSCODE_PARAMS_MAX_AGE = env.int("TRANSCODE_PARAMS_MAX_AGE", default=48 * 3600)
# Whole transcodes are kept under the cache dir up to this size (bytes, or with K/M/G/T), least recently used
# dropped first; 0 keeps none.
TRANSCODE_CACHE_SIZE = _size_setting("TRANSCODE_CACHE_SIZE", "1G")

# ---------------------------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------------------------
LOCAL_MEDIA_IMPORT_PATH = env.str("LOCAL_MEDIA_IMPORT_PATH", default="")
# Hard-link instead of copy when the import folder is on the same filesystem as MEDIA_ROOT.
LOCAL_IMPORT_HARDLINK = env.bool("LOCAL_IMPORT_HARDLINK", default=False)
YOUTUBE_ENABLED = env.bool("YOUTUBE_ENABLED", default=False)
YOUTUBE_COOKIES_FILE = env.str("YOUTUBE_COOKIES_FILE", default="")
YOUTUBE_MUSIC_BASE_URL = env.str("YOUTUBE_MUSIC_BASE_URL", default="https://music.youtube.com")

# The last problem a caller met with a source (a search that timed out or failed) shows in its health (the sources
# API, admin) for this long, or until a call succeeds.
SOURCE_PROBLEM_SECONDS = env.int("SOURCE_PROBLEM_SECONDS", default=3600)

# Source backends: alias -> dotted path and options, built lazily by sources.registry.
MCMA_SOURCES: dict[str, dict[str, object]] = {
    "local": {"BACKEND": "sources.backends.local.LocalSource", "OPTIONS": {"root": LOCAL_MEDIA_IMPORT_PATH}},
    "youtube": {
        "BACKEND": "sources.backends.youtube.YouTubeMusicSource",
        "OPTIONS": {
            "enabled": YOUTUBE_ENABLED,
            "base_url": YOUTUBE_MUSIC_BASE_URL,
            "cookies_file": YOUTUBE_COOKIES_FILE,
        },
    },
}

# ---------------------------------------------------------------------------------------------------------------
# Downloads: YouTube Music metadata (ytmusicapi) and media (yt-dlp); waits live in the DB, never in a countdown
# ---------------------------------------------------------------------------------------------------------------
YOUTUBE_REQUEST_TIMEOUT = env.float("YOUTUBE_REQUEST_TIMEOUT", default=10.0)
YOUTUBE_REQUESTS_PER_SECOND = env.float("YOUTUBE_REQUESTS_PER_SECOND", default=2.0)
YOUTUBE_CACHE_SECONDS = env.int("YOUTUBE_CACHE_SECONDS", default=300)
# yt-dlp extractors allowed to handle a source's media URL; anything else is refused (no SSRF via odd URLs).
DOWNLOAD_ALLOWED_EXTRACTORS = env.list("DOWNLOAD_ALLOWED_EXTRACTORS", default=["youtube"])
# "original" keeps the source's opus/m4a untouched; "opus", "mp3" or "m4a" transcode with ffmpeg.
DOWNLOAD_FORMAT = env.str("DOWNLOAD_FORMAT", default="original")
DOWNLOAD_AUDIO_QUALITY = env.str("DOWNLOAD_AUDIO_QUALITY", default="0")  # VBR 0 (best)..10, or kbps like "192"
# Work dirs must share MEDIA_ROOT's filesystem so the final move is atomic; empty = MEDIA_ROOT/.incoming.
DOWNLOAD_TEMP_DIR = env.str("DOWNLOAD_TEMP_DIR", default="")
DOWNLOAD_MAX_FILESIZE = env.int("DOWNLOAD_MAX_FILESIZE", default=200 * 1024 * 1024)
DOWNLOAD_SOCKET_TIMEOUT = env.float("DOWNLOAD_SOCKET_TIMEOUT", default=30.0)
DOWNLOAD_RATE_LIMIT_BYTES = env.int("DOWNLOAD_RATE_LIMIT_BYTES", default=0)  # 0 = unthrottled
DOWNLOAD_MAX_ATTEMPTS = env.int("DOWNLOAD_MAX_ATTEMPTS", default=5)
DOWNLOAD_RETRY_BASE_SECONDS = env.int("DOWNLOAD_RETRY_BASE_SECONDS", default=30)
DOWNLOAD_RETRY_CAP_SECONDS = env.int("DOWNLOAD_RETRY_CAP_SECONDS", default=3600)
# A rate limit or bot check pauses every job of the source for at least this long.
DOWNLOAD_RATE_LIMIT_PAUSE_SECONDS = env.int("DOWNLOAD_RATE_LIMIT_PAUSE_SECONDS", default=1800)
DOWNLOAD_CONCURRENCY_PER_SOURCE = env.int("DOWNLOAD_CONCURRENCY_PER_SOURCE", default=2)
# Songs a user (not an admin) may ask to download per 24 hours, album and playlist tracks included; 0 = no limit.
# An admin can set another limit per user (User.download_daily_limit).
DOWNLOAD_DAILY_LIMIT = env.int("DOWNLOAD_DAILY_LIMIT", default=0)
# A running job whose heartbeat is older than this lost its worker; the sweep hands it to another one.
DOWNLOAD_STALE_AFTER_SECONDS = env.int("DOWNLOAD_STALE_AFTER_SECONDS", default=300)
# Queued jobs whose message may have been lost (broker down at creation) are re-sent after this long.
DOWNLOAD_REENQUEUE_AFTER_SECONDS = env.int("DOWNLOAD_REENQUEUE_AFTER_SECONDS", default=120)
# Longest countdown handed to the broker; must stay well below the visibility timeout.
DOWNLOAD_MAX_COUNTDOWN_SECONDS = env.int("DOWNLOAD_MAX_COUNTDOWN_SECONDS", default=900)
DOWNLOAD_PLAYLIST_MAX_TRACKS = env.int("DOWNLOAD_PLAYLIST_MAX_TRACKS", default=500)
# A download task running longer is killed (prefork pool); the sweep then hands the job to another attempt.
DOWNLOAD_TASK_TIME_LIMIT = env.int("DOWNLOAD_TASK_TIME_LIMIT", default=1800)
DOWNLOAD_SWEEP_SECONDS = env.float("DOWNLOAD_SWEEP_SECONDS", default=60.0)
# A player relayed a song while it downloads gets its stream ended after this long without a new byte (a stalled
# or lost worker); the download itself goes on or fails on its own terms.
DOWNLOAD_RELAY_IDLE_SECONDS = env.float("DOWNLOAD_RELAY_IDLE_SECONDS", default=30.0)
# ---------------------------------------------------------------------------------------------------------------
# Identification: AcoustID fingerprints and MusicBrainz metadata, after each import and download (issue 24)
# ---------------------------------------------------------------------------------------------------------------
MUSICBRAINZ_ENABLED = env.bool("MUSICBRAINZ_ENABLED", default=False)
# Without a key only tracks tagged with a MusicBrainz recording id are identified (by that id).
ACOUSTID_API_KEY = env.str("ACOUSTID_API_KEY", default="")
# Origins, so that a mirror (or a test double) can stand in for the public services.
ACOUSTID_URL = env.str("ACOUSTID_URL", default="https://api.acoustid.org")
MUSICBRAINZ_URL = env.str("MUSICBRAINZ_URL", default="https://musicbrainz.org")
# MusicBrainz asks every client to say who runs it: the User-Agent of every metadata service is
# "mcma/<version> ( <contact> )", by default the project's URL (README); operators should set their own.
METADATA_CONTACT = env.str("METADATA_CONTACT", default="https://github.com/mcma-music/mcma")
METADATA_TIMEOUT_SECONDS = env.float("METADATA_TIMEOUT_SECONDS", default=10.0)
# MusicBrainz allows one request per second per client: one slot in the database is shared by every process.
MUSICBRAINZ_MIN_INTERVAL_SECONDS = env.float("MUSICBRAINZ_MIN_INTERVAL_SECONDS", default=1.0)
ACOUSTID_MIN_INTERVAL_SECONDS = env.float("ACOUSTID_MIN_INTERVAL_SECONDS", default=0.34)
# Retries of one call to any metadata service (library.remote) on a 429, a 5xx or a timeout (backoff 1 s, 2 s,
# 4 s …); a 4xx is never retried.
METADATA_HTTP_RETRIES = env.int("METADATA_HTTP_RETRIES", default=3)
METADATA_RETRY_BASE_SECONDS = env.float("METADATA_RETRY_BASE_SECONDS", default=1.0)
# Still unavailable after those retries: every worker leaves the service alone this long, the tasks retry later.
METADATA_PAUSE_SECONDS = env.int("METADATA_PAUSE_SECONDS", default=300)
# AcoustID scores (0 to 1) below this leave the track as it is ("unmatched").
METADATA_MATCH_THRESHOLD = env.float("METADATA_MATCH_THRESHOLD", default=0.85)
# Write identified values back into the managed file's tags (atomically); off: only the database changes.
METADATA_WRITE_TAGS = env.bool("METADATA_WRITE_TAGS", default=False)

# ---------------------------------------------------------------------------------------------------------------
# Scrobble forwarding: ListenBrainz (each user sets their own token in their profile) and Last.fm (each user
# authorises this server once, in a browser; the server needs an API account of its own)
# ---------------------------------------------------------------------------------------------------------------
# The API root; point it at a mirror or a self-hosted ListenBrainz (or a test double).
LISTENBRAINZ_URL = env.str("LISTENBRAINZ_URL", default="https://api.listenbrainz.org")
LISTENBRAINZ_TIMEOUT_SECONDS = env.float("LISTENBRAINZ_TIMEOUT_SECONDS", default=10.0)
# Listens not sent yet (service down, worker lost) are resent by this periodic sweep (both services).
LISTENBRAINZ_SWEEP_SECONDS = env.float("LISTENBRAINZ_SWEEP_SECONDS", default=300.0)
# From https://www.last.fm/api/account/create; Last.fm forwarding is off without both.
LASTFM_API_KEY = env.str("LASTFM_API_KEY", default="")
LASTFM_API_SECRET = env.str("LASTFM_API_SECRET", default="")
# Last.fm's service and authorisation page, or a Last.fm-compatible service's (or a test double).
LASTFM_API_URL = env.str("LASTFM_API_URL", default="https://ws.audioscrobbler.com/2.0/")
LASTFM_AUTH_URL = env.str("LASTFM_AUTH_URL", default="https://www.last.fm/api/auth/")
LASTFM_TIMEOUT_SECONDS = env.float("LASTFM_TIMEOUT_SECONDS", default=10.0)


# ---------------------------------------------------------------------------------------------------------------
# Library metadata: covers, lyrics, ReplayGain (filled in by the metadata sweep, never during a request)
# ---------------------------------------------------------------------------------------------------------------
def _priority(name: str, default: str, allowed: frozenset[str]) -> tuple[str, ...]:
    names = tuple(item.strip().lower() for item in env.str(name, default=default).split(",") if item.strip())
    unknown = [item for item in names if item not in allowed]
    if unknown or not names:
        raise ImproperlyConfigured(
            f"{name}: unknown {', '.join(unknown) or '(empty list)'}; use some of {', '.join(sorted(allowed))}"
        )
    return names


# Where an album's cover comes from, best first (like Navidrome's CoverArtPriority): the picture embedded in its
# first track, a cover/folder/front image in its folder, the Cover Art Archive by MusicBrainz release id, the
# source's thumbnail (YouTube Music downloads); without any, a generated placeholder is served.
COVER_ART_PRIORITY = _priority(
    "COVER_ART_PRIORITY",
    "embedded, folder, caa, source, placeholder",
    frozenset({"embedded", "folder", "caa", "source", "placeholder"}),
)
COVERART_URL = env.str("COVERART_URL", default="https://coverartarchive.org")
COVERART_TIMEOUT_SECONDS = env.float("COVERART_TIMEOUT_SECONDS", default=15.0)
# Which lyrics a song is served with, best first (like Navidrome's LyricsPriority): a .lrc or .txt file beside
# the audio file, the lyrics embedded in its tags, LRCLIB's.
LYRICS_PRIORITY = _priority(
    "LYRICS_PRIORITY", ".lrc, .txt, embedded, lrclib", frozenset({".lrc", ".txt", "embedded", "lrclib"})
)
# LRCLIB is asked for songs that have no lyrics at all; off by default, as it sends titles to a third party.
LRCLIB_ENABLED = env.bool("LRCLIB_ENABLED", default=False)
LRCLIB_URL = env.str("LRCLIB_URL", default="https://lrclib.net")
LRCLIB_TIMEOUT_SECONDS = env.float("LRCLIB_TIMEOUT_SECONDS", default=10.0)
# Measure ReplayGain (EBU R128 with ffmpeg) for songs whose tags carry none. Off by default: see README.
REPLAYGAIN_ANALYSIS = env.bool("REPLAYGAIN_ANALYSIS", default=False)
METADATA_SWEEP_SECONDS = env.float("METADATA_SWEEP_SECONDS", default=600.0)

CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "downloads.sweep": {"task": "downloads.sweep", "schedule": DOWNLOAD_SWEEP_SECONDS},
    "sources.sweep": {"task": "sources.sweep", "schedule": SCAN_SWEEP_SECONDS},
    "library.listens_sweep": {"task": "library.listens_sweep", "schedule": LISTENBRAINZ_SWEEP_SECONDS},
    "library.metadata_sweep": {"task": "library.metadata_sweep", "schedule": METADATA_SWEEP_SECONDS},
}

# ---------------------------------------------------------------------------------------------------------------
# Subsonic: the external catalogue (issue 21). Off by default; each user can also switch it off in their profile
# ---------------------------------------------------------------------------------------------------------------
# search2/search3 add hits of the enabled searchable sources after the library's (only for users who may request
# downloads), and getSong answers their `ext-…` ids.
EXTERNAL_SEARCH_IN_SUBSONIC = env.bool("EXTERNAL_SEARCH_IN_SUBSONIC", default=False)
# The longest a search waits for the sources; past it the library hits are answered alone.
EXTERNAL_SEARCH_TIMEOUT_SECONDS = env.float("EXTERNAL_SEARCH_TIMEOUT_SECONDS", default=2.0)
# stream/download of an external song requests its download and waits this long for its first bytes to relay, or
# for the library copy (polling the job), before answering "still downloading"; the player's retry then streams.
EXTERNAL_STREAM_WAIT_SECONDS = env.float("EXTERNAL_STREAM_WAIT_SECONDS", default=25.0)
# At most this many requests of one web process wait like that at once (the rest are told "still downloading" at
# once, their downloads requested all the same), so players cannot tie up every thread of the web server.
EXTERNAL_STREAM_MAX_WAITING = env.int("EXTERNAL_STREAM_MAX_WAITING", default=2)
# At most this many requests of one web process relay a download's bytes while they arrive (the player starts at
# once). A request beyond it waits for the library copy as above, in one of the EXTERNAL_STREAM_MAX_WAITING places.
EXTERNAL_STREAM_MAX_RELAYS = env.int("EXTERNAL_STREAM_MAX_RELAYS", default=2)

# ---------------------------------------------------------------------------------------------------------------
# Logging: one line per event to stderr; never a secret (credentials in URLs are masked, mcma.access_log)
# ---------------------------------------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"credentials": {"()": "mcma.access_log.CredentialMaskFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["credentials"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
