"""Keep secrets out of reports.

`scrub` masks, anywhere in a nested mapping, the value of every key that names
a secret (token, jwt, password, secret, kubeconfig, authorization, credential, api
key, private key, cookie), and inside every string it masks bearer and basic
credentials, JWTs, ``password=…``-style pairs and the password in
``scheme://user:password@host``. Reports are written only after `scrub`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

MASK: Final = "[redacted]"

_SENSITIVE_WORDS = r"token|jwt|passw(?:or)?d|secret|kubeconfig|authori[sz]ation|credential|api_?key|private_?key|cookie"
_SENSITIVE_KEY = re.compile(_SENSITIVE_WORDS + r"|client_key|client_certificate", re.IGNORECASE)
# EdgeX's secret store is a service, not a secret: "security-secretstore-setup: 4.0.2" is a version.
_NOT_A_SECRET = re.compile(r"secret_?store", re.IGNORECASE)
# "Authorization: Bearer abc123…", "Basic dXNlcjpwYXNz"
_SCHEME = re.compile(r"\b(bearer|basic)(\s+)([A-Za-z0-9._~+/=-]{8,})", re.IGNORECASE)
# Prose such as "basic authentication" has no digit, symbol or capital after the first letter.
_CREDENTIAL_LIKE = re.compile(r"[0-9+/=_.~-]|.[A-Z]")
# password=hunter2, "token": "abc", client-key-data: LS0t..., EDGEX_..._PASSWORD=x (but not "a::b")
_KEY_AND_SEPARATOR = re.compile(r"\b([\w-]+)\"?'?\s*(?:=|:(?!:))\s*\"?'?")
_VALUE = re.compile(r"[^\s\"',;&]+")

_VALUE_PATTERNS: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    # A JWT anywhere: header.payload.signature, the header always base64url of '{"'.
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), MASK),
    # https://user:password@registry.example
    (re.compile(r"(://[^/\s:@]+:)[^/\s@]+@"), rf"\1{MASK}@"),
)


def is_secret_key(key: str) -> bool:
    """Return whether a mapping key names a secret (``kube_config`` and ``Client-Key-Data`` count too)."""
    normal = _NOT_A_SECRET.sub("", key.replace("-", "_").replace("_config", "config"))
    return _SENSITIVE_KEY.search(normal) is not None


def _mask_scheme(match: re.Match[str]) -> str:
    scheme, space, credential = match.groups()
    return f"{scheme}{space}{MASK}" if _CREDENTIAL_LIKE.search(credential) else match.group(0)


def _mask_pairs(text: str) -> str:
    # Scanned by hand rather than with re.sub so that "failed: password=x" finds the second pair too.
    parts, done = [], 0
    for pair in _KEY_AND_SEPARATOR.finditer(text):
        if pair.start() < done or not is_secret_key(pair.group(1)):
            continue
        value = _VALUE.match(text, pair.end())
        # A scheme's credential ("Bearer …") and an earlier mask are handled already.
        if value is None or value.group(0).lower() in ("bearer", "basic") or value.group(0) == MASK:
            continue
        parts += [text[done : pair.end()], MASK]
        done = value.end()
    return "".join([*parts, text[done:]])


def scrub_text(text: str) -> str:
    """Return `text` with credentials inside it masked."""
    text = _SCHEME.sub(_mask_scheme, text)
    for pattern, replacement in _VALUE_PATTERNS:
        text = pattern.sub(replacement, text)
    return _mask_pairs(text)


def _scrub_value(value: object) -> object:
    if isinstance(value, Mapping):
        return scrub(value)
    if isinstance(value, list | tuple):
        return [_scrub_value(item) for item in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


def scrub(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return a deep copy of `data` with secrets masked; `data` itself is not changed.

    A value under a secret-naming key becomes `MASK` whatever its type (so a
    kubeconfig mapping disappears whole); a ``null`` stays ``null`` because it
    holds nothing. Every string elsewhere passes through `scrub_text`.
    """
    clean: dict[str, Any] = {}
    for key, value in data.items():
        if is_secret_key(str(key)) and value is not None:
            clean[key] = MASK
        else:
            clean[key] = _scrub_value(value)
    return clean
