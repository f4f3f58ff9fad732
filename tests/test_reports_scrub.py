"""Secrets never reach a report."""

from __future__ import annotations

import pytest

from reports.scrub import MASK, is_secret_key, scrub, scrub_text


def test_scrub_masks_secret_keys_at_any_depth_without_touching_the_input() -> None:
    data = {
        "target": {
            "fingerprint": {"k3s_version": "v1.34.4+k3s1", "node-token": "K10abc", "kubeconfig": {"users": [1]}},
        },
        "api": [{"Authorization": "Bearer abc"}, {"password": "hunter2", "user": "admin"}],
        "edgex": {"security": "off", "versions": {"security-secretstore-setup": "4.0.2"}},
        "empty_token": None,
    }
    clean = scrub(data)
    assert clean == {
        "target": {"fingerprint": {"k3s_version": "v1.34.4+k3s1", "node-token": MASK, "kubeconfig": MASK}},
        "api": [{"Authorization": MASK}, {"password": MASK, "user": "admin"}],
        "edgex": {"security": "off", "versions": {"security-secretstore-setup": "4.0.2"}},
        "empty_token": None,
    }
    assert data["api"][1]["password"] == "hunter2"  # type: ignore[index]  # the input is untouched


@pytest.mark.parametrize(
    "key",
    ["token", "TOKEN", "access_token", "password", "passwd", "db-password", "client_secret", "kubeconfig",
     "kube_config", "KUBECONFIG", "authorization", "api_key", "apiKey", "private-key", "client-key-data",
     "credentials", "cookie", "jwt"],
)  # fmt: skip
def test_is_secret_key_recognises_secret_names(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    ["security", "security-secretstore-setup", "secret_store", "git_commit", "podman_version", "hostname", "reason"],
)
def test_is_secret_key_leaves_ordinary_names_alone(key: str) -> None:
    assert not is_secret_key(key)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /x: Authorization: Bearer abcdef123456 refused", f"GET /x: Authorization: Bearer {MASK} refused"),
        ("Basic dXNlcjpwYXNz sent", f"Basic {MASK} sent"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl end", f"jwt {MASK} end"),
        ("login failed: password=hunter2 user=admin", f"login failed: password={MASK} user=admin"),
        ('{"token": "abc123"}', f'{{"token": "{MASK}"}}'),
        ("client-key-data: LS0tLS1CRUdJTg==", f"client-key-data: {MASK}"),
        ("pull https://bot:s3cr3t@registry.example/edgex", f"pull https://bot:{MASK}@registry.example/edgex"),
        ("EDGEX_SECURITY_SECRET_STORE=false", "EDGEX_SECURITY_SECRET_STORE=false"),
        ("security-secretstore-setup: exited 1", "security-secretstore-setup: exited 1"),
        ("suites/test_auth.py::test_token_is_required", "suites/test_auth.py::test_token_is_required"),
        ("the gateway wants basic authentication", "the gateway wants basic authentication"),
    ],
)
def test_scrub_text_masks_credentials_inside_strings(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


def test_scrub_masks_credentials_inside_lists_of_strings() -> None:
    assert scrub({"argv": ["curl", "-H", "Authorization: Bearer tok3nvalue1"]}) == {
        "argv": ["curl", "-H", f"Authorization: Bearer {MASK}"]
    }
