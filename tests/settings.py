"""Django settings for the test suite: the real settings, with a throw-away data dir and keys.

``HAVEN_TEST_DATABASE_URL`` runs the suite on another database (CI: PostgreSQL).
"""

import base64
import os
import tempfile

os.environ.setdefault("HAVEN_DATA_DIR", tempfile.mkdtemp(prefix="haven-test-"))
os.environ.setdefault("HAVEN_SECRET_KEY", "test-secret-key-not-for-production-" + "x" * 20)
os.environ.setdefault("HAVEN_ENCRYPTION_KEYS", base64.urlsafe_b64encode(b"k" * 32).decode())
os.environ.setdefault("HAVEN_AUDIT_KEYS", base64.urlsafe_b64encode(b"a" * 32).decode())
os.environ.setdefault("HAVEN_SECURE_COOKIES", "false")
if os.environ.get("HAVEN_TEST_DATABASE_URL"):
    os.environ["HAVEN_DATABASE_URL"] = os.environ["HAVEN_TEST_DATABASE_URL"]

from haven.web.config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; argon2 is tested explicitly
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Threads that serve requests in tests (live_server) must not keep their connections open past a
# request, or the test database cannot be dropped at the end of the run.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
