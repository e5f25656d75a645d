"""Settings for BuonoComune, read from environment variables.

Development defaults need nothing but Python: SQLite in WAL mode, tasks run inline.
Production (``BUONOCOMUNE_ENV=production``) refuses to start without a real secret key.
"""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.templatetags.static import static
from django.urls import reverse_lazy
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

import pwa
from core.sidebar import may_open_list

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


ENVIRONMENT = os.environ.get("BUONOCOMUNE_ENV", "development")
PRODUCTION = ENVIRONMENT == "production"

DEBUG = env_bool("DEBUG", default=not PRODUCTION)

_DEV_SECRET = "dev-only-insecure-secret-key-change-me-0123456789-abcdefghijklmnop"
SECRET_KEY = os.environ.get("SECRET_KEY", "" if PRODUCTION else _DEV_SECRET)
if PRODUCTION and (not SECRET_KEY or SECRET_KEY == _DEV_SECRET or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 50 characters in production."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.import_export",
    "unfold.contrib.simple_history",
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
    "import_export",
    "simple_history",
    "axes",
    "django_otp",
    "core.vendor_apps.AuthenticatorAppsConfig",  # django_otp.plugins.otp_totp, named in Italian
    "core.vendor_apps.BackupCodesConfig",  # django_otp.plugins.otp_static
    "core",
    "vouchers",
    "merchants",
    "reports",
    "pwa.apps.PwaConfig",
    "config.apps.SiteConfig",  # last: config/admin.py completes the apps' pages
]

MIDDLEWARE = [
    # These three only add headers to responses (and redirect to HTTPS): the till's fast
    # lane (merchants.fastlane.HEADER_MIDDLEWARE, in front of this stack) applies them too.
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "core.otp.middleware.StaffOTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Staff and shop logins: five wrong passwords for one username from one address lock that
# pair for fifteen minutes (beneficiaries' access codes have their own lock in vouchers.services.access).
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("AXES_COOLOFF_HOURS", "0.25"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Unlock with `manage.py axes_reset_username USERNAME`; the admin lists stay focused on the programmes.
AXES_ENABLE_ADMIN = False
AXES_LOCKOUT_TEMPLATE = "lockout.html"
# Reverse proxies in front of the app, each appending the address it saw to X-Forwarded-For.
# The lockouts (and the app's rate limits) take the client's address from the right-most
# entries the trusted proxies wrote, never from what the client put on the left: with
# django-ipware's own lookup this count resolved every address to None behind one proxy.
AXES_IPWARE_PROXY_COUNT = int(os.environ.get("AXES_PROXY_COUNT", "1" if PRODUCTION else "0"))
AXES_CLIENT_IP_CALLABLE = "core.client_address.client_ip"

# Two-factor authentication (TOTP) for staff in the admin, see core/otp/. Required in
# production: a staff member without an authenticator app must enrol one before any admin
# page. Elsewhere it is voluntary, but whoever has enrolled is always asked for the code.
OTP_REQUIRED = env_bool("OTP_REQUIRED", default=PRODUCTION)
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "BuonoComune")
# Nobody, not even a superuser, reads another person's secret key or backup codes.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates", *pwa.django_pwa_template_dirs()],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers work while one writer holds the lock; IMMEDIATE takes the write lock
    # when a transaction starts, so two redemptions never deadlock upgrading a read lock.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql"):
    # JIT compiling adds 25-70 ms to each large admin query and gains nothing back on them.
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = f"{_options.get('options', '')} -c jit=off".strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "it"
LANGUAGES = [("it", _("Italiano")), ("en", _("English"))]
# English dates as read in Italy (day/month/year, 24-hour clock): see core/formats/en.
FORMAT_MODULE_PATH = ["core.formats"]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Rome"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG and not PRODUCTION

LOGIN_URL = "admin:login"
# Staff who open the login page directly land on the admin, not on a missing profile page.
LOGIN_REDIRECT_URL = "admin:index"

REDIS_URL = os.environ.get("REDIS_URL", "")
if PRODUCTION and not REDIS_URL:
    # Several app servers share the API's rate-limit counters and the task queue through it.
    raise ImproperlyConfigured("REDIS_URL must be set in production.")
if REDIS_URL:
    CACHES = {
        "default": {
            # A Redis outage turns the cache into misses (pages compute their figures).
            "BACKEND": "core.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that stops answering must not hold the tills' requests for long: the
            # API's counters give up after a second and let the request through.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL or "memory://")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
# Tasks defined outside the apps' tasks.py modules.
CELERY_IMPORTS = ["reports.archive.exports"]
CELERY_TIMEZONE = TIME_ZONE
# The periodic tasks, run by Celery's own beat (`celery -A config beat`, exactly one process) at
# these times of CELERY_TIMEZONE. The shops' settlement calendars are not here: they are the
# shops' own (Merchant.settlement_frequency and settlement_weekday, edited on the shop's page),
# read from the database by the one nightly settlement run, which settles the shops due.
CELERY_BEAT_SCHEDULE = {
    # The active vouchers whose validity ended expire; their balance goes back to the call.
    "Scadenza dei buoni": {
        "task": "vouchers.tasks.expire_due_vouchers",
        "schedule": crontab(minute="30", hour="0"),
    },
    # The shops due today (every day, or weekly on their weekday) are settled up to the end of
    # the day before; a second run the same day settles nothing more.
    "Liquidazione degli esercenti": {
        "task": "merchants.tasks.settle_due_merchants",
        "schedule": crontab(minute="0", hour="2"),
    },
    # The new redemptions and reimbursements are attributed to each call's funders.
    "Attribuzione della spesa alle fonti": {
        "task": "vouchers.funding.attribute_funding",
        "schedule": crontab(minute="0", hour="3"),
    },
    # The admin dashboard's figures (agency, funders, each municipality), ready to show.
    "Cifre del cruscotto": {
        "task": "merchants.tasks.refresh_dashboard_figures",
        "schedule": crontab(minute="*/5", hour="*"),
    },
    # The personal data of archived calls past their retention are anonymised.
    "Anonimizzazione dei bandi oltre la conservazione": {
        "task": "vouchers.tasks.expired_initiatives_anonymise",
        "schedule": crontab(minute="30", hour="3"),
    },
    # Issuing runs the queue did not take (Redis unreachable) or no worker started are handed
    # to the queue again.
    "Ripresa delle emissioni dei buoni in coda": {
        "task": "vouchers.tasks.issuance_runs_recover",
        "schedule": crontab(minute="*/5", hour="*"),
    },
    # The SMS provider is asked whether outcomes sent by SMS were delivered; an SMS not
    # delivered becomes a letter to print.
    "Ricevute di consegna degli SMS": {
        "task": "vouchers.tasks.sms_receipts_check",
        "schedule": crontab(minute="*/10", hour="*"),
    },
    # The ZIP files of calls' archives prepared for download are deleted once their days are
    # over: they hold personal data.
    "Eliminazione degli archivi scaricabili scaduti": {
        "task": "vouchers.tasks.archive_exports_purge",
        "schedule": crontab(minute="45", hour="3"),
    },
}

# A call's archive ZIP, prepared in the background, holds personal data: its file is deleted
# this many days after it is ready; one queued or running for longer than this many minutes
# is taken as lost (its worker stopped) and staff may ask for another.
ARCHIVE_EXPORT_KEEP_DAYS = int(os.environ.get("ARCHIVE_EXPORT_KEEP_DAYS", "7"))
ARCHIVE_EXPORT_STALE_MINUTES = int(os.environ.get("ARCHIVE_EXPORT_STALE_MINUTES", "120"))
# A call's issuing run still queued this many minutes after it was handed to the queue (no
# worker took it) is handed over again by the next click or by the periodic recovery.
ISSUANCE_RUN_STALE_MINUTES = int(os.environ.get("ISSUANCE_RUN_STALE_MINUTES", "10"))

MAILERS = {
    "default": {
        "BACKEND": os.environ.get(
            "MAIL_BACKEND",
            "django.core.mail.backends.smtp.EmailBackend"
            if PRODUCTION
            else "django.core.mail.backends.console.EmailBackend",
        ),
        "OPTIONS": {
            key.lower(): value
            for key, value in {
                "HOST": os.environ.get("MAIL_HOST"),
                "PORT": int(os.environ["MAIL_PORT"]) if os.environ.get("MAIL_PORT") else None,
                "USERNAME": os.environ.get("MAIL_USERNAME"),
                "PASSWORD": os.environ.get("MAIL_PASSWORD"),
                "USE_TLS": env_bool("MAIL_USE_TLS") if os.environ.get("MAIL_USE_TLS") else None,
            }.items()
            if value is not None
        },
    }
}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "BuonoComune <noreply@localhost>")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "merchants.authentication.DeviceKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's parsers with size limits (and a depth limit for JSON), files kept in memory.
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser", "core.parsers.MultiPartParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# /health/deep/ (database, Redis, workers) answers only a monitor that sends
# "Authorization: Bearer <this token>"; empty, nobody. /health/ is public and reads nothing.
HEALTH_CHECK_TOKEN = os.environ.get("HEALTH_CHECK_TOKEN", "")

# merchants.fastlane: tills' redemptions by device key skip the stack they do not need.
TILL_FAST_LANE = env_bool("TILL_FAST_LANE", default=True)

SPECTACULAR_SETTINGS = {
    "TITLE": "BuonoComune API",
    "DESCRIPTION": "Verifica e utilizzo dei buoni nominativi nei negozi del circuito.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from this server, not from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "media-src": [CSP.SELF, "blob:"],
    "connect-src": [CSP.SELF],
    "worker-src": [CSP.SELF],
    "manifest-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
SECURE_CSP_ADMIN = {
    **SECURE_CSP,
    "script-src": [CSP.SELF, CSP.UNSAFE_INLINE, CSP.UNSAFE_EVAL],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "font-src": [CSP.SELF, "data:"],
}

# Voucher redemption: a device or cashier that sends this many unknown codes within the
# window is refused with ``rate_limited`` until the window passes; so is a client address
# (several tills of a shop, or several shops behind one mobile network, share one).
VOUCHER_UNKNOWN_CODE_LIMIT = int(os.environ.get("VOUCHER_UNKNOWN_CODE_LIMIT", "10"))
VOUCHER_UNKNOWN_CODE_IP_LIMIT = int(os.environ.get("VOUCHER_UNKNOWN_CODE_IP_LIMIT", "50"))
VOUCHER_UNKNOWN_CODE_WINDOW_SECONDS = int(os.environ.get("VOUCHER_UNKNOWN_CODE_WINDOW", "600"))
# A till's sale in the fast lane reads those counters from the cache (Redis in production, a
# round trip that costs about a third of a sale's app CPU). Each app worker keeps for this
# many seconds the answer "not throttled": a till that goes over its limit through another
# worker may complete valid sales for that long, never an unknown code (each is checked
# afresh). 0 reads the counters at every sale.
VOUCHER_THROTTLE_CLEAN_SECONDS = float(os.environ.get("VOUCHER_THROTTLE_CLEAN_SECONDS", "1"))

PWA_APP_NAME = "BuonoComune"
PWA_APP_DESCRIPTION = _("I tuoi buoni del Comune e la cassa del negozio")
PWA_APP_THEME_COLOR = "#0b3d91"
PWA_APP_BACKGROUND_COLOR = "#ffffff"
PWA_APP_DISPLAY = "standalone"
PWA_APP_SCOPE = "/"
PWA_APP_START_URL = "/"
PWA_APP_LANG = "it-IT"
PWA_APP_ICONS = [
    {"src": "/static/icons/icon-192.png", "sizes": "192x192", "type": "image/png"},
    {"src": "/static/icons/icon-512.png", "sizes": "512x512", "type": "image/png"},
]

UNFOLD = {
    "SITE_TITLE": "BuonoComune",
    "SITE_HEADER": "BuonoComune",
    "SITE_SYMBOL": "redeem",
    "SHOW_HISTORY": True,
    "SHOW_LANGUAGES": True,
    "ACCOUNT": {
        "navigation": [
            {"title": _("Cambia password"), "link": reverse_lazy("admin:password_change")},
            {"title": _("Verifica in due passaggi"), "link": reverse_lazy("otp-security")},
        ],
    },
    "DASHBOARD_CALLBACK": "reports.admin.dashboard.dashboard_callback",
    # Accessibility fixes for markup written by Django's admin scripts and unfold's colours.
    "SCRIPTS": [lambda request: static("js/admin-a11y.js")],
    "STYLES": [lambda request: static("css/admin.css")],
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": True,
        "navigation": [
            {
                "title": _("Programmi"),
                "items": [
                    {
                        "title": _("Bandi"),
                        "icon": "campaign",
                        "link": reverse_lazy("admin:vouchers_initiative_changelist"),
                        "permission": may_open_list("vouchers.Initiative"),
                    },
                    {
                        "title": _("Domande da istruire"),
                        "icon": "inbox",
                        "link": lambda request: (
                            str(reverse_lazy("admin:vouchers_application_changelist"))
                            + "?coda=da-istruire"
                        ),
                        "permission": may_open_list("vouchers.Application"),
                    },
                    {
                        "title": _("Domande"),
                        "icon": "description",
                        "link": reverse_lazy("admin:vouchers_application_changelist"),
                        "permission": may_open_list("vouchers.Application"),
                    },
                    {
                        "title": _("Beneficiari"),
                        "icon": "person",
                        "link": reverse_lazy("admin:vouchers_beneficiary_changelist"),
                        "permission": may_open_list("vouchers.Beneficiary"),
                    },
                    {
                        "title": _("Comunicazioni"),
                        "icon": "mail",
                        "link": reverse_lazy("admin:vouchers_notification_changelist"),
                        "permission": may_open_list("vouchers.Notification"),
                    },
                    {
                        "title": _("Emissioni dei buoni"),
                        "icon": "progress_activity",
                        "link": reverse_lazy("admin:vouchers_issuancerun_changelist"),
                        "permission": may_open_list("vouchers.IssuanceRun"),
                    },
                    {
                        "title": _("Buoni"),
                        "icon": "qr_code_2",
                        "link": reverse_lazy("admin:vouchers_voucher_changelist"),
                        "permission": may_open_list("vouchers.Voucher"),
                    },
                    {
                        "title": _("Richieste di rimborso"),
                        "icon": "receipt",
                        "link": reverse_lazy("admin:vouchers_reimbursementclaim_changelist"),
                        "permission": may_open_list("vouchers.ReimbursementClaim"),
                    },
                    {
                        "title": _("Archivi preparati"),
                        "icon": "folder_zip",
                        "link": reverse_lazy("admin:vouchers_archiveexport_changelist"),
                        "permission": may_open_list("vouchers.ArchiveExport"),
                    },
                ],
            },
            {
                "title": _("Negozi"),
                "items": [
                    {
                        "title": _("Esercenti"),
                        "icon": "storefront",
                        "link": reverse_lazy("admin:merchants_merchant_changelist"),
                        "permission": may_open_list("merchants.Merchant"),
                    },
                    {
                        "title": _("Utilizzi"),
                        "icon": "point_of_sale",
                        "link": reverse_lazy("admin:merchants_redemption_changelist"),
                        "permission": may_open_list("merchants.Redemption"),
                    },
                    {
                        "title": _("Tentativi rifiutati"),
                        "icon": "block",
                        "link": reverse_lazy("admin:merchants_refusedattempt_changelist"),
                        "permission": may_open_list("merchants.RefusedAttempt"),
                    },
                ],
            },
            {
                "title": _("Fondi e contabilità"),
                "items": [
                    {
                        "title": _("Enti"),
                        "icon": "account_balance",
                        "link": reverse_lazy("admin:core_organization_changelist"),
                        "permission": may_open_list("core.Organization"),
                    },
                    {
                        "title": _("Fondi"),
                        "icon": "savings",
                        "link": reverse_lazy("admin:core_fund_changelist"),
                        "permission": may_open_list("core.Fund"),
                    },
                    {
                        "title": _("Fonti dei bandi"),
                        "icon": "account_tree",
                        "link": reverse_lazy("admin:vouchers_initiativefunding_changelist"),
                        "permission": may_open_list("vouchers.InitiativeFunding"),
                    },
                    {
                        "title": _("Rapporto per finanziatore"),
                        "icon": "volunteer_activism",
                        "link": reverse_lazy("admin:vouchers_funder_reach"),
                        "permission": "vouchers.admin.funding.sidebar_permission",
                    },
                    {
                        "title": _("Registrazioni contabili"),
                        "icon": "receipt_long",
                        "link": reverse_lazy("admin:core_journal_changelist"),
                        "permission": may_open_list("core.Journal"),
                    },
                    {
                        "title": _("Distinte di pagamento"),
                        "icon": "payments",
                        "link": reverse_lazy("admin:core_paymentbatch_changelist"),
                        "permission": may_open_list("core.PaymentBatch"),
                    },
                    {
                        "title": _("Trasferimenti dai comuni"),
                        "icon": "account_balance",
                        "link": reverse_lazy("admin:vouchers_incomingtransfer_changelist"),
                        "permission": may_open_list("vouchers.IncomingTransfer"),
                    },
                    {
                        "title": _("Rendicontazione"),
                        "icon": "monitoring",
                        "link": reverse_lazy("admin-reports"),
                        "permission": "reports.admin.rendicontazione.sidebar_permission",
                    },
                ],
            },
        ],
    },
}

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
# Outcome SMS (vouchers/sms.py). Production has no SMS until a real provider is configured:
# applicants with a phone and no e-mail get a printed letter. With SMS enabled, it refuses to
# start with the development backends, which reach only a log or the memory.
_SMS_DEVELOPMENT_BACKENDS = {"vouchers.sms.ConsoleSmsBackend", "vouchers.sms.LocmemSmsBackend"}
SMS_BACKEND = os.environ.get(
    "SMS_BACKEND", "" if PRODUCTION else "vouchers.sms.ConsoleSmsBackend"
).strip()
SMS_ENABLED = env_bool("SMS_ENABLED", default=bool(SMS_BACKEND))
SMS_API_URL = os.environ.get("SMS_API_URL", "https://api.skebby.it/API/v1.0/REST/")
SMS_USER_KEY = os.environ.get("SMS_USER_KEY", "")
SMS_ACCESS_TOKEN = os.environ.get("SMS_ACCESS_TOKEN", "")
SMS_SENDER = os.environ.get("SMS_SENDER", "")
SMS_MESSAGE_TYPE = os.environ.get("SMS_MESSAGE_TYPE", "GP")
SMS_TIMEOUT_SECONDS = float(os.environ.get("SMS_TIMEOUT_SECONDS", "10"))
# An SMS the provider has not confirmed delivered after this many hours gets a letter.
SMS_RECEIPT_WAIT_HOURS = int(os.environ.get("SMS_RECEIPT_WAIT_HOURS", "48"))
if PRODUCTION and SMS_ENABLED:
    if not SMS_BACKEND or SMS_BACKEND in _SMS_DEVELOPMENT_BACKENDS:
        raise ImproperlyConfigured(
            "SMS_BACKEND must be a real SMS provider in production (for example "
            "vouchers.sms.SkebbySmsBackend), not the console or in-memory backend; "
            "or set SMS_ENABLED=false to send printed letters instead of SMS."
        )
    if SMS_BACKEND == "vouchers.sms.SkebbySmsBackend" and not (SMS_USER_KEY and SMS_ACCESS_TOKEN):
        raise ImproperlyConfigured(
            "SMS_USER_KEY and SMS_ACCESS_TOKEN must be set for vouchers.sms.SkebbySmsBackend."
        )
PWA_SERVICE_WORKER_PATH = BASE_DIR / "static" / "js" / "serviceworker.js"

# The agency's account that pays shops and beneficiaries: the debtor of every pain.001 file.
# The demo defaults are a valid Italian IBAN and its bank's BIC; set the real ones in production.
AGENCY_DEBTOR_NAME = os.environ.get("AGENCY_DEBTOR_NAME", "Agenzia BuonoComune")
AGENCY_DEBTOR_IBAN = os.environ.get("AGENCY_DEBTOR_IBAN", "IT60X0542811101000000123456")
AGENCY_DEBTOR_BIC = os.environ.get("AGENCY_DEBTOR_BIC", "BLOPIT22XXX")
AGENCY_DEBTOR_STREET = os.environ.get("AGENCY_DEBTOR_STREET", "Via del Corso")
AGENCY_DEBTOR_BUILDING_NUMBER = os.environ.get("AGENCY_DEBTOR_BUILDING_NUMBER", "1")
AGENCY_DEBTOR_POSTCODE = os.environ.get("AGENCY_DEBTOR_POSTCODE", "00186")
AGENCY_DEBTOR_TOWN = os.environ.get("AGENCY_DEBTOR_TOWN", "Roma")
AGENCY_DEBTOR_COUNTRY = os.environ.get("AGENCY_DEBTOR_COUNTRY", "IT")
