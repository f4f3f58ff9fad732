"""Records the secrets a secure smoke run holds only in memory, for tests/test_secure_secrets.py.

Loaded into a smoke run as a pytest plugin (``-p tests._secret_capture``) with
``EDGEX_SMOKE_CAPTURE=<file>``: it wraps the token flow, and writes the proxy users' passwords,
their secret-store tokens, their JWTs and the broker's password to that file (outside the run's report
directory), so the test knows exactly which values must appear in none of the run's outputs.
Used only by the harness's own tests.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from edgex_client import tokens
from edgex_smoke import secure

ENV = "EDGEX_SMOKE_CAPTURE"


def pytest_configure(config: pytest.Config) -> None:
    """Wrap `secure.obtain` and the token flow's field reader for this run."""
    path = Path(os.environ[ENV])
    seen: list[str] = []
    obtain, field, user_jwt = secure.obtain, tokens._field, tokens.user_jwt

    def keep(*values: str) -> None:
        seen.extend(values)
        path.write_text(json.dumps(sorted(set(seen))), encoding="utf-8")

    def capturing_field(call: Any, body: dict[str, object], section: str, key: str) -> str:
        value = field(call, body, section, key)  # the userpass login's client token, then the JWT
        keep(value)
        return value

    def capturing_obtain(*args: Any, **kwargs: Any) -> secure.Credentials:
        credentials = obtain(*args, **kwargs)
        keep(credentials.jwt, credentials.bus_password)
        return credentials

    def capturing_user_jwt(base_url: str, username: str, password: str, **kwargs: Any) -> str:
        keep(password)  # the run's proxy user's, and check k's short-lived user's
        return user_jwt(base_url, username, password, **kwargs)

    tokens._field = capturing_field
    tokens.user_jwt = capturing_user_jwt
    secure.obtain = capturing_obtain

    def restore() -> None:
        tokens._field, tokens.user_jwt, secure.obtain = field, user_jwt, obtain

    config.add_cleanup(restore)
