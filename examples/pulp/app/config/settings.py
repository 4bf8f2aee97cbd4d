# Pulp settings from the repo; the database and Redis come from the environment.
import os

CONTENT_ORIGIN = "https://pulp.content.example"
MEDIA_ROOT = "/var/lib/pulp/media"
WORKING_DIRECTORY = "/tmp/pulp"
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "URL": os.environ["DATABASE_URL"]}}
REDIS_URL = os.environ["REDIS_URL"]
