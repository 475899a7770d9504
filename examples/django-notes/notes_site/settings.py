"""Settings for django-notes, read from the environment.

On a server ferry writes `shared/.env` (mode 0600) from the deploy's
`app_env` and the stage's secrets file, and links it into each release:
DEBUG, SECRET_KEY, ALLOWED_HOSTS and DATABASE_URL come from there, never
from git.
"""

import os
from pathlib import Path

import dj_database_url
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(BASE_DIR / ".env")

SECRET_KEY = os.environ["SECRET_KEY"]
DEBUG = os.environ.get("DEBUG", "0") == "1"
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]

INSTALLED_APPS = [
    "django.contrib.staticfiles",
    "notes",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "notes_site.urls"
WSGI_APPLICATION = "notes_site.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True

# collectstatic fills STATIC_ROOT inside the release being deployed, before
# `current` points at it; nginx serves it from `current/static/`.
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "static"
