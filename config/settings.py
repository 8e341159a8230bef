"""Kassa settings. The environment is read here and nowhere else (django-environ).

Defaults give the embedded setup (`make run`): SQLite and a filesystem broker
under var/, sandbox providers on 127.0.0.1:7076, console email.
"""
import os
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR") or BASE_DIR / "var")  # SQLite, broker, sandbox state: a test's own
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional; real deployments use the process env

# Fail closed: nothing set means production. `make run` and the tests set DEBUG=true explicitly.
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
_KEY_HINT = "e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))'"
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            f"SECRET_KEY is not set. With DEBUG=false Kassa refuses to start without it; set SECRET_KEY ({_KEY_HINT})."
        )
    SECRET_KEY = "insecure-dev-only-key-never-used-with-debug-off"
# The same bar as Django's security.W009 (50 characters, 5 distinct), enforced rather than warned about.
elif not DEBUG and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure-")):
    raise ImproperlyConfigured(
        f"SECRET_KEY is too weak: use at least 50 random characters ({_KEY_HINT})."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default=f"http://127.0.0.1:{env.int('WEB_PORT', default=8000)}").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_celery_beat",
    "django_prometheus",
    "axes",
    "config.apps.KassaConfig",  # system checks (config/checks.py)
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "sellers",
    "webhooks",
    "orders",
    "payments",
    "notifications",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "config.middleware.BodySizeLimitMiddleware",
    "config.middleware.RejectNullBytesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.SecurityHeadersMiddleware",
    "config.middleware.RequestLogMiddleware",
    "config.outage.OutageMiddleware",  # Redis unreachable in a view: 503 + Retry-After, not 500
    "django.contrib.sessions.middleware.SessionMiddleware",
    "config.locale.ShopperLocaleMiddleware",  # shop pages: Accept-Language; the rest: LANGUAGE_CODE
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified() from the session's OTP device
    "django.contrib.messages.middleware.MessageMiddleware",
    "config.middleware.AdminListLookupMiddleware",  # impossible dates in an admin list URL: back to the list
    "config.middleware.ShopperNotFoundMiddleware",  # the styled 404 on shopper URLs under DEBUG too
    "orders.partner_session.PartnerSessionMiddleware",  # ?partner_token= entry (issue 8)
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "sellers.middleware.CurrentSellerMiddleware",
    "sellers.two_factor.TwoFactorMiddleware",  # a password alone reaches only the second-factor pages
    # axes must be last: it turns lockouts into a response (django-axes docs).
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "sellers.context_processors.kassa",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + IMMEDIATE transactions + busy timeout let web, worker and beat write
    # side by side without "database is locked" (Django 5.1+ options).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file test DB (make test sets it) lets live_server threads and subprocesses share it.
    if _sqlite_test_name := env.str("SQLITE_TEST_NAME", default=""):
        DATABASES["default"]["TEST"] = {"NAME": _sqlite_test_name}
    # Django's SQLite backend, with a flush that works beside the ledger's append-only triggers.
    DATABASES["default"]["ENGINE"] = "config.sqlite3"
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    # A restarted database never turns into a failed request: each request checks its reused
    # connection first. config.postgres is Django's PostgreSQL backend with one change: it checks
    # an idle connection by polling its socket (a server that dropped it has sent something or
    # closed it) instead of sending `SELECT 1` before every request's first query.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["ENGINE"] = "config.postgres"
    # Django's own options for prepared statements: server-side binding sends values apart
    # from the SQL text, and psycopg prepares a statement once it has run prepare_threshold
    # times on a connection, so PostgreSQL plans the hot paths' repeated statements once per
    # connection. Turn it off (DB_PREPARED_STATEMENTS=false) behind a pooler in transaction
    # mode older than PgBouncer 1.21, which cannot track prepared statements.
    if env.bool("DB_PREPARED_STATEMENTS", default=True):
        options = DATABASES["default"].setdefault("OPTIONS", {})
        options.setdefault("server_side_binding", True)
        options.setdefault("prepare_threshold", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = DATABASES["default"]["ENGINE"] in ("django.db.backends.postgresql", "config.postgres")

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    # Bounded waits: a stalled or unreachable Redis costs a request at most about a second, never a hang.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2}}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "kassa"}}

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# Login throttling: 5 failures per username+IP locks out for 15 minutes.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True

# Two-factor login (django-otp, sellers/two_factor.py): TOTP apps plus one-time recovery codes; staff
# always need it. Wrong codes count as axes failures and also back off per device (django-otp throttling).
OTP_TOTP_ISSUER = "Kassa"

# English is the only catalogue (locale/en). The variants differ in how Babel formats money and dates
# (en-in groups in lakhs): the dashboard uses the seller's choice, shop pages the shopper's Accept-Language
# (config/locale.py), everything else LANGUAGE_CODE.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("en-in", "English (India)"), ("en-gb", "English (UK)"), ("en-us", "English (US)")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
# The staff pages' clock (review queue, confirmations): one zone for the whole platform team, shown with
# its label; the database and logs stay in UTC.
STAFF_TIME_ZONE = env.str("STAFF_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every request when it is missing
# Serve straight from the finders so dev and tests need no collectstatic;
# production (DEBUG=false) uses hashed, compressed files from collectstatic.
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Email (README "Email") ---------------------------------------------------
# EMAIL_URL: smtp://user:pass@host:587, smtp+tls://… (STARTTLS), smtps:// or smtp+ssl:// (implicit TLS),
# consolemail:// (the default: printed by the worker). `make run` points it at the sandbox's catcher.
globals().update({name: value for name, value in env.email_url("EMAIL_URL", default="consolemail://").items()
                  if value not in (None, "")})
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Kassa <no-reply@kassa.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
# Staff who get the daily digest of the review queue.
STAFF_DIGEST_EMAILS = env.list("STAFF_DIGEST_EMAILS", default=[])
# A queued email whose after-commit task never ran is sent by the beat sweep after this long.
EMAIL_SWEEP_AFTER_SECONDS = env.int("EMAIL_SWEEP_AFTER_SECONDS", default=60)

# Requests larger than this get 413 from BodySizeLimitMiddleware before any parsing.
MAX_REQUEST_BODY_BYTES = env.int("MAX_REQUEST_BODY_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES
# Webhooks whose signature does not verify: per client IP (the sliding-window counter of the API
# throttle) and how long their rows are kept (hourly purge).
INBOUND_INVALID_RATE = env.str("INBOUND_INVALID_RATE", default="60/min")
INBOUND_INVALID_RETENTION_DAYS = env.int("INBOUND_INVALID_RETENTION_DAYS", default=30)
# Hosts a seller's webhook endpoint may name although they resolve to a private or loopback address (the
# SSRF guard refuses those outside DEBUG): an operator's own receivers, e.g. the soak's on 127.0.0.1.
WEBHOOK_PRIVATE_HOSTS = env.list("WEBHOOK_PRIVATE_HOSTS", default=[])

# --- Celery -----------------------------------------------------------------
# CELERY_BROKER_URL picks another broker (e.g. RabbitMQ: amqp://user:pass@host:5672/vhost); by default
# Celery uses REDIS_URL, or kombu's filesystem broker when there is no Redis either. "localhost" is ignored
# by the filesystem transport; without it kombu warns "No hostname was supplied" in every command.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL or "filesystem://localhost/"
if CELERY_BROKER_URL == "filesystem://localhost/":
    _broker_dir = VAR_DIR / "celery"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    # kombu's filesystem transport: one folder both reads and writes (docs: kombu filesystem).
    # Its exchange table ("control") defaults to ./control, i.e. the checkout: keep it in var/ too.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith("redis"):  # redis://, rediss://, redis+socket://
    # kombu's Redis transport waits without a timeout unless given one (its docs: socket_timeout): a broker
    # that stops answering without closing the connection (stopped, failed over, a flow a NAT dropped)
    # would hold an after-commit publish, and a worker's ack, for ever. The same bounds as config/redis.py.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 2}
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# --- Payments (README "Environment") ------------------------------------------
PAYMENT_EXPIRY_MINUTES = env.int("PAYMENT_EXPIRY_MINUTES", default=30)
PAYMENT_MONITORING_HOURS = env.int("PAYMENT_MONITORING_HOURS", default=24)
PAYMENT_EXPIRY_GRACE_SECONDS = env.int("PAYMENT_EXPIRY_GRACE_SECONDS", default=60)
# A closed Nano payment that saw no money gives its amount slot back after this many seconds
# (long enough for a late wallet), so abandoned checkouts cannot hold slots for the whole
# monitoring window; money after that is an unmatched receipt in the staff review queue.
NANO_SLOT_RELEASE_AFTER = env.int("NANO_SLOT_RELEASE_AFTER", default=2 * 3600)
# Anonymous Buy and payment starts per client (address, and session when there is one), on the
# API throttle's counter: a bot cannot fill a Nano address's amount slots. Comma-separated tiers
# (a slot is held ~2.5 h, so the hour tier bounds one client's share); empty turns it off.
SHOP_THROTTLE_RATE = env.str("SHOP_THROTTLE_RATE", default="30/min,100/hour")
PLATFORM_FEE_BPS = env.int("PLATFORM_FEE_BPS", default=250)
GATEWAY_POLL_AFTER_MINUTES = env.int("GATEWAY_POLL_AFTER_MINUTES", default=5)
GATEWAY_POLL_CAP_PER_TICK = env.int("GATEWAY_POLL_CAP_PER_TICK", default=50)
# A gateway refund still pending this long is looked up at the provider (its first call may be in flight).
REFUND_RECONCILE_AFTER_SECONDS = env.int("REFUND_RECONCILE_AFTER_SECONDS", default=60)

SANDBOX_PORT = env.int("SANDBOX_PORT", default=7076)
SANDBOX_URL = env.str("SANDBOX_URL", default=f"http://127.0.0.1:{SANDBOX_PORT}").rstrip("/")
# Sandbox mode (its published credentials, "Simulate payment") only when asked for: `make run` and the tests
# set SANDBOX_MODE=true; it never follows DEBUG.
SANDBOX_MODE = env.bool("SANDBOX_MODE", default=False)
if SANDBOX_MODE:
    # The sandbox (its `sandbox serve` command) is an app only here: production never loads it.
    INSTALLED_APPS.append("sandbox.apps.SandboxConfig")
SANDBOX_STATE_DIR = env.str("SANDBOX_STATE_DIR", default=str(VAR_DIR / "sandbox"))

NANO_RPC_URL = env.str("NANO_RPC_URL", default=f"{SANDBOX_URL}/nano")
# The node's websocket (confirmations pushed as they happen; `manage.py nano_listen`).
# A real node serves it on 7078 beside RPC on 7076; so does `sandbox serve` (--nano-ws-port).
# The sandbox's mail catcher (SMTP; inbox at SANDBOX_URL/mail/). `make run` sends Kassa's email there.
SANDBOX_SMTP_PORT = env.int("SANDBOX_SMTP_PORT", default=7025)
SANDBOX_NANO_WS_PORT = env.int("SANDBOX_NANO_WS_PORT", default=7078)
NANO_WS_URL = env.str("NANO_WS_URL", default=f"ws://{urlsplit(SANDBOX_URL).hostname}:{SANDBOX_NANO_WS_PORT}")
NANO_WS_REFRESH_SECONDS = env.float("NANO_WS_REFRESH_SECONDS", default=5.0)
# Fixed rates for fiat-priced XNO payments: µXNO per major unit of fiat (sandbox source).
NANO_RATE_SOURCE = env.str("NANO_RATE_SOURCE", default="fixed")
NANO_FIXED_RATES = env.dict("NANO_FIXED_RATES", default={"USD": "1000000", "INR": "12000", "EUR": "1080000"})
NANO_RATE_URL = env.str("NANO_RATE_URL", default="")
NANO_RATE_TTL_SECONDS = env.int("NANO_RATE_TTL_SECONDS", default=60)
NANO_RPC_TIMEOUT = env.float("NANO_RPC_TIMEOUT", default=5.0)
NANO_RPC_RETRIES = env.int("NANO_RPC_RETRIES", default=2)
NANO_RECEIVABLE_COUNT = env.int("NANO_RECEIVABLE_COUNT", default=500)
NANO_SANDBOX_AUTO_RECEIVE = env.bool("NANO_SANDBOX_AUTO_RECEIVE", default=False)

RAZORPAY_API_URL = env.str("RAZORPAY_API_URL", default=f"{SANDBOX_URL}/razorpay")
RAZORPAY_CHECKOUT_URL = env.str("RAZORPAY_CHECKOUT_URL", default=f"{SANDBOX_URL}/razorpay/checkout")
RAZORPAY_KEY_ID = env.str("RAZORPAY_KEY_ID", default="rzp_test_sandbox" if SANDBOX_MODE else "")
RAZORPAY_KEY_SECRET = env.str("RAZORPAY_KEY_SECRET", default="sandbox_key_secret" if SANDBOX_MODE else "")
RAZORPAY_WEBHOOK_SECRET = env.str("RAZORPAY_WEBHOOK_SECRET", default="sandbox_webhook_secret" if SANDBOX_MODE else "")

COINPAY_API_URL = env.str("COINPAY_API_URL", default=f"{SANDBOX_URL}/coinpay")
COINPAY_USERNAME = env.str("COINPAY_USERNAME", default="sandbox" if SANDBOX_MODE else "")
COINPAY_PASSWORD = env.str("COINPAY_PASSWORD", default="sandbox-password" if SANDBOX_MODE else "")
COINPAY_WEBHOOK_SECRET = env.str("COINPAY_WEBHOOK_SECRET", default="sandbox_coinpay_secret" if SANDBOX_MODE else "")

# Partner super-app sign-in (issue 8, orders/partner.py): off when the URL is empty. The sandbox serves
# /partner/verify; our key goes in the x-api-key header, the shopper's token in miniapp-user-token.
PARTNER_VERIFY_URL = env.str("PARTNER_VERIFY_URL", default=f"{SANDBOX_URL}/partner/verify" if SANDBOX_MODE else "")
PARTNER_API_KEY = env.str("PARTNER_API_KEY", default="sandbox_partner_key" if SANDBOX_MODE else "")
PARTNER_VERIFY_TIMEOUT = env.float("PARTNER_VERIFY_TIMEOUT", default=3.0)
# How long the partner's answer for one token is reused instead of asking again.
PARTNER_VERIFY_CACHE_SECONDS = env.int("PARTNER_VERIFY_CACHE_SECONDS", default=60)
# A signed-in shopper's session lifetime, sliding with activity; then the app's token is verified again
# (so a revoked token stops working at most this long after the shopper's last request).
PARTNER_SESSION_SECONDS = env.int("PARTNER_SESSION_SECONDS", default=1800)
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])

if not DEBUG and not SANDBOX_MODE:
    _missing = [
        name
        for name in ("RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_WEBHOOK_SECRET", "COINPAY_USERNAME",
                     "COINPAY_PASSWORD", "COINPAY_WEBHOOK_SECRET")
        if not globals()[name]
    ]
    if _missing:
        raise ImproperlyConfigured(
            f"Missing provider secrets: {', '.join(_missing)}. Set them, or SANDBOX_MODE=true for sandbox providers."
        )

# --- REST API ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["sellers.api_auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["sellers.api_auth.HasSellerApiKey"],
    "DEFAULT_PAGINATION_CLASS": "config.api.Pagination",
    "PAGE_SIZE": 25,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["sellers.api_auth.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env.str("API_THROTTLE_RATE", default="600/min")},
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["config.parsers.StrictJSONParser"],  # JSON without NUL/lone surrogates
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Kassa API",
    "DESCRIPTION": "Multi-seller payments: orders, payments (Nano, Razorpay, CoinPay), refunds, analytics, webhooks.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Swagger UI assets come from the sidecar package via static files (no CDN).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a "status" field with different choices: name each enum (drf-spectacular docs).
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "orders.models.Order.Status",
        "PaymentStatusEnum": "payments.models.Payment.Status",
        "RefundStatusEnum": "payments.models.Refund.Status",
        "WebhookDeliveryStatusEnum": "webhooks.models.WebhookDelivery.Status",
        "OrderUpdateStatusEnum": [("fulfilled", "fulfilled")],
    },
}

# --- Security headers -------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Load balancers probe /healthz over plain HTTP; behind SECURE_SSL_REDIRECT a 301 would read as "down".
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# config.middleware adds the configured gateways' origins to form-action (the pay form posts there).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
)
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Logging: one structured line per request, task and provider call -------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"kv": {"()": "config.logging.KeyValueFormatter"}},
    "filters": {"task": {"()": "config.logging.TaskContextFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "kv", "filters": ["task"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
        "axes": {"level": "WARNING"},
    },
}
