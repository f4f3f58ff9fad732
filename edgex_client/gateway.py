"""EdgeX REST API v3 through the API gateway.

The gateway (NGINX in 3.x and 4.x) routes ``/<service>/`` to each service and
strips the prefix, so ``<base>/core-data/api/v3/ping`` reaches core-data's
``/api/v3/ping``. In secure mode every call through the gateway, ping included,
needs a JWT; this client sends it as a Bearer token when given one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import requests

from edgex_client import _http, readings, waiting
from edgex_client.ping import Ping
from harness.errors import EventTimeoutError, PreflightError, ReadinessTimeoutError

API_BASE = "/api/v3"

# The gateway routes the smoke test relies on; NGINX strips the prefix before proxying.
GATEWAY_SERVICES: tuple[str, ...] = (
    "core-data",
    "core-metadata",
    "core-command",
    "device-virtual",
    "device-rest",
    "device-mqtt",
)

# core-command options: read from the device now, return the event, do not also publish it.
COMMAND_GET_PARAMS: Mapping[str, str] = {"ds-pushevent": "false", "ds-returnevent": "true"}

# limit=-1 asks for everything up to the service's MaxResultCount.
ALL_RESULTS = -1


def _segment(name: str) -> str:
    return quote(name, safe="")


class GatewayClient:
    """Calls EdgeX services only through the API gateway.

    Args:
        base_url: The gateway, e.g. ``http://127.0.0.1:8000`` or ``https://edgex:8443``.
        verify: True to verify TLS against the system CAs, or the path of a CA bundle.
            Verification cannot be turned off.
        token: A JWT for secure mode; sent as ``Authorization: Bearer``, never logged.
        timeout_s: Connect and read timeout of each request.
        server_name: The name the gateway's certificate must carry, whatever address `base_url`
            names (a deployment makes its certificate for a fixed name, not for every address
            a client may use); the URL's host when None.

    Raises:
        ValueError: `verify` is False.
        PreflightError: `verify` names a CA bundle that does not exist.
    """

    def __init__(
        self,
        base_url: str,
        *,
        verify: str | bool = True,
        token: str | None = None,
        timeout_s: float = 10.0,
        server_name: str | None = None,
    ) -> None:
        if verify is False:
            raise ValueError("gateway: verify=False would turn TLS verification off; pass verify=<CA bundle path>")
        if isinstance(verify, str) and not Path(verify).is_file():
            raise PreflightError(
                f"gateway: CA bundle {verify!r} does not exist; pass verify=<path of the gateway's CA certificate>"
            )
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._has_token = token is not None
        self._verify = verify
        self._session = requests.Session()
        if server_name is not None:
            self._session.mount("https://", _http.NamedServerAdapter(server_name))
        if token is not None:
            self._session.headers["Authorization"] = f"Bearer {token}"

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    # -- generic calls -------------------------------------------------------------------------

    def url(self, service: str, path: str) -> str:
        """Return the full URL of `path` (below ``/api/v3``) on `service` through the gateway."""
        return self.base_url + self._call("GET", service, path).path

    def get_json(self, service: str, path: str, params: Mapping[str, str | int] | None = None) -> dict[str, Any]:
        """``GET /<service>/api/v3<path>`` and return the JSON object it answers.

        Raises:
            GatewayAuthError: 401 or 403.
            GatewayError: No answer, a non-2xx status or a non-JSON body.
        """
        call = self._call("GET", service, path)
        return _http.json_object(call, self._send(call, params=params))

    # -- every service -------------------------------------------------------------------------

    def ping(self, service: str) -> Ping:
        """Ping `service` (``GET /api/v3/ping``).

        The caller should check ``service_name``: a route pointing at the wrong
        port still answers.
        """
        call = self._call("GET", service, "/ping")
        body = _http.json_object(call, self._send(call))
        return Ping(
            service_name=_http.field(call, body, "serviceName", str),
            api_version=_http.field(call, body, "apiVersion", str),
            timestamp=_http.field(call, body, "timestamp", str),
        )

    def version(self, service: str) -> str:
        """Return the ``version`` that ``GET /api/v3/version`` of `service` reports (``4.0.2``)."""
        call = self._call("GET", service, "/version")
        return _http.field(call, _http.json_object(call, self._send(call)), "version", str)

    # -- core-data -----------------------------------------------------------------------------

    def event_count(self, device: str | None = None) -> int:
        """Return core-data's event count, in total or for one device."""
        path = "/event/count" if device is None else f"/event/count/device/name/{_segment(device)}"
        call = self._call("GET", "core-data", path)
        return _http.field(call, _http.json_object(call, self._send(call)), "count", int)

    def events_for_device(self, device: str, limit: int = 20) -> list[dict[str, Any]]:
        """Return up to `limit` of the device's newest events from core-data (``-1`` for all)."""
        call = self._call("GET", "core-data", f"/event/device/name/{_segment(device)}")
        body = _http.json_object(call, self._send(call, params={"limit": limit}))
        if body.get("events") is None:  # Go encodes an empty result as null
            return []
        events = _http.field(call, body, "events", list)
        return [event for event in events if isinstance(event, dict)]

    # -- core-metadata -------------------------------------------------------------------------

    def device_names(self, service: str | None = None) -> list[str]:
        """Return the sorted names of all devices known to core-metadata, or of one device service's."""
        path = "/device/all" if service is None else f"/device/service/name/{_segment(service)}"
        call = self._call("GET", "core-metadata", path)
        body = _http.json_object(call, self._send(call, params={"limit": ALL_RESULTS}))
        devices = body.get("devices") or []
        return sorted(device["name"] for device in devices if isinstance(device, dict) and "name" in device)

    # -- core-command --------------------------------------------------------------------------

    def command_get(self, device: str, command: str) -> dict[str, Any]:
        """Read `command` of `device` through core-command and return the resulting event.

        The event is returned, not pushed to core-data (``ds-pushevent=false``).
        """
        call = self._call("GET", "core-command", f"/device/name/{_segment(device)}/{_segment(command)}")
        body = _http.json_object(call, self._send(call, params=COMMAND_GET_PARAMS))
        return _http.field(call, body, "event", dict)

    def command_value(self, device: str, command: str, resource: str | None = None) -> str:
        """Read `command` of `device` and return the value of its reading `resource`.

        Args:
            device: Device name.
            command: Command (or resource) to read.
            resource: Reading to pick; defaults to `command`, which is right for single-resource reads.

        Raises:
            ProductError: The event has no such reading.
        """
        return readings.reading_value(self.command_get(device, command), resource or command)

    def command_put(self, device: str, command: str, values: Mapping[str, str]) -> None:
        """Write `values` (resource name to string value) with `command` of `device` through core-command."""
        call = self._call("PUT", "core-command", f"/device/name/{_segment(device)}/{_segment(command)}")
        self._send(call, json_body=dict(values))

    # -- device-rest ---------------------------------------------------------------------------

    def rest_post(self, device: str, resource: str, value: str, content_type: str = "text/plain") -> None:
        """Push `value` for `resource` of `device` into device-rest (``POST /api/v3/resource/...``).

        Args:
            device: A device of device-rest (``sample-numeric``).
            resource: One of its resources (``int``).
            value: The raw value as text; JSON text for ``Object`` resources.
            content_type: ``text/plain``, or ``application/json`` for ``Object`` resources.
        """
        call = self._call("POST", "device-rest", f"/resource/{_segment(device)}/{_segment(resource)}")
        self._send(call, data=value.encode(), headers={"Content-Type": content_type})

    # -- waits ---------------------------------------------------------------------------------

    def wait_for_pings(
        self,
        services: tuple[str, ...] = GATEWAY_SERVICES,
        *,
        timeout_s: float,
        interval_s: float = 1.0,
    ) -> dict[str, Ping]:
        """Wait until every one of `services` answers ping through the gateway.

        Raises:
            GatewayAuthError: The gateway refused the token (not retried).
            ReadinessTimeoutError: Some service still did not answer at the deadline.
        """

        def all_pings() -> dict[str, Ping]:
            return {service: self.ping(service) for service in services}

        return waiting.wait_for(
            all_pings,
            timeout_s=timeout_s,
            interval_s=interval_s,
            what=f"gateway: ping of {', '.join(services)}",
            error=ReadinessTimeoutError,
        )

    def wait_for_event_count(
        self,
        *,
        above: int,
        device: str | None = None,
        timeout_s: float,
        interval_s: float = 1.0,
    ) -> int:
        """Wait until core-data's event count (total or for `device`) exceeds `above`, and return it.

        Args:
            above: A count seen earlier (0 or more).
            device: Count only this device's events.
            timeout_s: How long to wait.
            interval_s: Pause between polls.

        Raises:
            EventTimeoutError: The count did not grow in time.
        """
        last_count: int | None = None

        def grown_count() -> int | None:
            nonlocal last_count
            last_count = self.event_count(device)
            return last_count if last_count > above else None

        scope = "total" if device is None else f"for {device}"
        fix = "check that the device services publish to the message bus and core-data subscribes to it"
        try:
            return waiting.wait_for(
                grown_count,
                timeout_s=timeout_s,
                interval_s=interval_s,
                what=f"core-data: event count {scope} above {above}",
                fix=fix,
            )
        except EventTimeoutError as exc:
            if last_count is None:  # never got a count; the message already names the last error
                raise
            raise EventTimeoutError(
                f"core-data: event count {scope} still {last_count} after {timeout_s:g} s, "
                f"expected above {above}; {fix}"
            ) from exc

    # -- plumbing ------------------------------------------------------------------------------

    def _call(self, method: str, service: str, path: str) -> _http.Call:
        if not service or "/" in service:
            raise ValueError(f"gateway: service {service!r} is not a route name; use one of {GATEWAY_SERVICES}")
        return _http.Call(
            method=method,
            service=service,
            path=f"/{service}{API_BASE}{path}",
            base_url=self.base_url,
            has_token=self._has_token,
        )

    def _send(
        self,
        call: _http.Call,
        *,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        return _http.send(
            self._session,
            call,
            verify=self._verify,
            timeout_s=self.timeout_s,
            params=params,
            json_body=json_body,
            data=data,
            headers=headers,
        )
