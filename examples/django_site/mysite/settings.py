"""A small Django project for `nox -s app` (see the README, "Benchmark your own app")."""

import os
from urllib.parse import unquote, urlsplit

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["shop"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "mysite.urls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates",
              "APP_DIRS": True}]
# With `--db postgres` the benchmark gives a real PostgreSQL's URL. Under WSGI each
# request thread keeps its own connection for a minute (persistent connections); under
# ASGI, as Django's documentation says, none persist and psycopg's pool (Django's
# `pool` option, psycopg_pool's default size) serves the requests instead.
DATABASES = {}
if os.environ.get("DATABASE_URL"):
    url = urlsplit(os.environ["DATABASE_URL"])
    pooled = os.environ.get("MYSITE_INTERFACE") == "asgi"
    DATABASES["default"] = {
        "ENGINE": "django.db.backends.postgresql", "NAME": url.path.lstrip("/"),
        "USER": unquote(url.username or ""), "PASSWORD": unquote(url.password or ""),
        "HOST": url.hostname, "PORT": str(url.port or 5432),
        "CONN_MAX_AGE": 0 if pooled else 60, "OPTIONS": {"pool": True} if pooled else {}}
USE_TZ = True
LOGGING = {"version": 1, "disable_existing_loggers": False,
           "handlers": {"console": {"class": "logging.StreamHandler"}},
           "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR"}}}
