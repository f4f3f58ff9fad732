"""HTTP plumbing for the gateway client: send one request, translate its failures once.

Every failure becomes a `GatewayError` (or `GatewayAuthError` for 401/403) whose
one-line message names the request, what went wrong and what to check. Request
headers never go into messages or logs, because they carry the JWT.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from harness.errors import GatewayAuthError, GatewayError

log = logging.getLogger(__name__)

T = TypeVar("T")

BODY_EXCERPT_CHARS = 256


class NamedServerAdapter(HTTPAdapter):
    """HTTPS that checks the certificate for one fixed name (SNI and hostname check), at any address.

    The chain is still verified against the caller's CA; only the name compared is not the URL's host.
    """

    def __init__(self, server_name: str) -> None:
        self.server_name = server_name
        super().__init__()

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        """Every pool sends `server_name` as SNI and checks the certificate against it."""
        pool_kwargs.update(server_hostname=self.server_name, assert_hostname=self.server_name)
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)


@dataclass(frozen=True)
class Call:
    """One request through the gateway, described for messages.

    Attributes:
        method: HTTP method.
        service: The EdgeX service behind the route (``core-data``).
        path: Path below the gateway, with the route prefix (``/core-data/api/v3/ping``).
        base_url: The gateway's base URL.
        has_token: Whether a JWT was sent (never the token itself).
    """

    method: str
    service: str
    path: str
    base_url: str
    has_token: bool

    @property
    def display(self) -> str:
        """``GET /core-data/api/v3/ping``."""
        return f"{self.method} {self.path}"


def send(
    session: requests.Session,
    call: Call,
    *,
    verify: str | bool,
    timeout_s: float,
    params: Mapping[str, str | int] | None = None,
    json_body: Any = None,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> requests.Response:
    """Send `call` and return its 2xx response.

    `verify` goes with every request: requests lets ``REQUESTS_CA_BUNDLE`` override a
    session-level CA path (psf/requests#3829), which would silently ignore the caller's.

    Raises:
        GatewayAuthError: The gateway answered 401 or 403.
        GatewayError: No answer, a TLS failure, or any other non-2xx status.
    """
    log.debug("%s (base %s, params %s)", call.display, call.base_url, params)
    try:
        response = session.request(
            call.method,
            call.base_url + call.path,
            params=params,
            json=json_body,
            data=data,
            headers=dict(headers or {}),
            verify=verify,
            timeout=timeout_s,
        )
    except requests.RequestException as exc:
        raise GatewayError(_transport_message(call, exc, timeout_s)) from exc
    log.debug("%s -> %s", call.display, response.status_code)
    if not response.ok:
        raise _status_error(call, response)
    return response


def json_object(call: Call, response: requests.Response) -> dict[str, Any]:
    """Return the response body as a JSON object.

    Raises:
        GatewayError: The body is not JSON, or not a JSON object.
    """
    try:
        body = response.json()
    except ValueError as exc:
        content_type = response.headers.get("Content-Type", "no Content-Type")
        raise GatewayError(
            f"{call.service}: {call.display} answered {response.status_code} with a non-JSON body "
            f"({content_type}): {excerpt(response.text)}; check that the gateway routes /{call.service}/ "
            f"to {call.service}"
        ) from exc
    if not isinstance(body, dict):
        raise GatewayError(
            f"{call.service}: {call.display} answered JSON that is not an object: {excerpt(response.text)}; "
            f"check that the gateway routes /{call.service}/ to {call.service}"
        )
    return body


def field(call: Call, body: Mapping[str, Any], key: str, kind: type[T]) -> T:
    """Return ``body[key]`` checked to be a `kind`.

    Raises:
        GatewayError: The key is missing or has another type.
    """
    value = body.get(key)
    if not isinstance(value, kind):
        raise GatewayError(
            f"{call.service}: {call.display} answered without a {kind.__name__} {key!r} "
            f"(got {type(value).__name__}; keys {sorted(body)}); is this an EdgeX v3 API?"
        )
    return value


def excerpt(text: str, limit: int = BODY_EXCERPT_CHARS) -> str:
    """Return the start of `text` on one line, at most `limit` characters."""
    text = " ".join(text.split())
    if not text:
        return "(empty body)"
    return text if len(text) <= limit else text[:limit] + "…"


def _body_excerpt(response: requests.Response) -> str:
    # EdgeX error bodies are {"apiVersion","message","statusCode"}; the message is the useful part.
    try:
        body = response.json()
    except ValueError:
        return excerpt(response.text)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return excerpt(body["message"])
    return excerpt(response.text)


def _is_edgex_error(response: requests.Response) -> bool:
    """True if the body is an EdgeX service's own error (``{"apiVersion", "message", "statusCode"}``), not NGINX's."""
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and "statusCode" in body and "apiVersion" in body


def _status_error(call: Call, response: requests.Response) -> GatewayError:
    status = f"{response.status_code} {response.reason}".strip()
    head = f"{call.display} answered {status}: {_body_excerpt(response)}"
    code = response.status_code
    if code in (401, 403):
        if call.has_token:
            fix = (
                "the JWT was refused; it may have expired (jwtTTL defaults to 1h) or come from another EdgeX, "
                "fetch a new one"
            )
        else:
            fix = (
                "secure EdgeX needs a JWT on every call, ping included: pass GatewayClient(token=...) "
                "from 'secrets-config proxy adduser' and the OpenBao OIDC token endpoint"
            )
        return GatewayAuthError(f"gateway: {head}; {fix}")
    if code == 404:
        fix = f"check the names in the path and that the gateway has a /{call.service}/ route"
    elif code == 423:
        fix = "the device or its service is LOCKED; set adminState to UNLOCKED"
    elif code in (502, 503, 504) and _is_edgex_error(response):
        fix = f"{call.service} itself gave this answer, not the gateway; check its log and the service it calls"
    elif code in (502, 503, 504):
        fix = f"the gateway could not reach {call.service}; check that it runs and that its route points to its port"
    else:
        fix = f"check the {call.service} logs"
    return GatewayError(f"{call.service}: {head}; {fix}")


def _transport_message(call: Call, exc: requests.RequestException, timeout_s: float) -> str:
    parts = urlsplit(call.base_url)
    host = parts.hostname or "?"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    prefix = f"gateway: {call.display} failed"
    causes = list(_causes(exc))
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return f"{prefix}: connection refused at {call.base_url}; is the pod running and port {port} published?"
    if any(isinstance(cause, socket.gaierror) for cause in causes):
        return f"{prefix}: cannot resolve host {host!r} of {call.base_url}; check the gateway URL"
    if isinstance(exc, requests.exceptions.SSLError):
        reason = next((c for c in causes if isinstance(c, ssl.SSLError)), exc)
        return (
            f"{prefix}: TLS verification failed at {call.base_url} ({excerpt(str(reason), 160)}); "
            "pass verify=<path of the CA certificate that signed the gateway certificate>"
        )
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"{prefix}: no connection to {call.base_url} within {timeout_s:g} s; is {host}:{port} reachable?"
    if isinstance(exc, requests.exceptions.Timeout):
        return (
            f"{prefix}: no answer from {call.base_url} within {timeout_s:g} s; "
            f"check the gateway and {call.service} logs, or raise timeout_s"
        )
    return f"{prefix} at {call.base_url}: {excerpt(str(exc), 160)}; is the gateway running?"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """Yield `exc` and everything it wraps (requests and urllib3 nest errors in args and .reason)."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested: list[object] = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        pending.extend(item for item in nested if isinstance(item, BaseException))
