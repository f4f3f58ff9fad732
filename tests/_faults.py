"""Faults for real EdgeX: each breaks one thing in the rendered pod, for tests/test_faults.py.

Loaded into a smoke run as a pytest plugin (``-p tests._faults``) with ``EDGEX_SMOKE_FAULT=<name>``:
it wraps `manifests.render`, so the run deploys the pod with that one thing broken and goes on
exactly as a user's run would. Used only by the harness's own tests.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import manifests

ENV = "EDGEX_SMOKE_FAULT"
KubeObject = dict[str, Any]


@dataclass(frozen=True)
class Fault:
    """One thing broken on purpose, and what the run must say about it."""

    name: str
    breaks: Callable[[list[KubeObject]], None]
    blame: str | None
    """The component the root cause (or, when EdgeX comes up, the failing checks' reasons) must name; None: pass."""
    fails: frozenset[str] = frozenset()
    """Checks that must fail; empty when EdgeX must not come up (every check blocked)."""
    bound_s: float | None = None
    """The longest the ready phase may take to give the verdict, when EdgeX does not come up."""


def _pod(objects: list[KubeObject]) -> KubeObject:
    (pod,) = [obj for obj in objects if obj["kind"] == "Pod"]
    return pod


def _container(objects: list[KubeObject], name: str) -> KubeObject:
    (container,) = [c for c in _pod(objects)["spec"]["containers"] if c["name"] == name]
    assert isinstance(container, dict)
    return container


def _env(name: str, **values: str) -> Callable[[list[KubeObject]], None]:
    def breaks(objects: list[KubeObject]) -> None:
        container = _container(objects, name)
        container["env"] = [*container.get("env", []), *({"name": k, "value": v} for k, v in values.items())]

    return breaks


def _edgex_env(**values: str) -> Callable[[list[KubeObject]], None]:
    def breaks(objects: list[KubeObject]) -> None:
        release = manifests.release_info("4.0")
        for service in release.services:
            _env(service.container, **values)(objects)

    return breaks


def _gateway_configmap(objects: list[KubeObject]) -> KubeObject:
    """The gateway's ConfigMap of the rendered objects (named after the run's pod)."""
    (config,) = [
        o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith(manifests.GATEWAY_CONFIGMAP)
    ]
    return config


def _gateway_route(service: str, port: int) -> Callable[[list[KubeObject]], None]:
    def breaks(objects: list[KubeObject]) -> None:
        config = _gateway_configmap(objects)
        text = config["data"]["nginx.conf"]
        pattern = rf"(location /{service}/ \{{\s*proxy_pass http://127\.0\.0\.1:)\d+/;"
        changed, count = re.subn(pattern, rf"\g<1>{port}/;", text)
        assert count == 1, f"no route /{service}/ in the gateway configuration"
        config["data"]["nginx.conf"] = changed

    return breaks


def _broken_gateway_config(objects: list[KubeObject]) -> None:
    config = _gateway_configmap(objects)
    config["data"]["nginx.conf"] = config["data"]["nginx.conf"].replace("worker_processes 1;", "worker_processes one;")


def _command(name: str, replace: Callable[[list[str]], list[str]]) -> Callable[[list[KubeObject]], None]:
    def breaks(objects: list[KubeObject]) -> None:
        container = _container(objects, name)
        container["command"] = replace(list(container["command"]))

    return breaks


def _delayed(seconds: int) -> Callable[[list[str]], list[str]]:
    return lambda command: ["/bin/sh", "-c", f'sleep {seconds}; exec "$@"', "delayed", *command]


def _fails_first_start(command: list[str]) -> list[str]:
    # /tmp survives a restart of the same container (podman restarts it in place).
    script = 'if [ ! -e /tmp/edgex-smoke-fault ]; then touch /tmp/edgex-smoke-fault; exit 1; fi; exec "$@"'
    return ["/bin/sh", "-c", script, "flaky", *command]


def _published_database(objects: list[KubeObject]) -> None:
    _container(objects, "database")["ports"] = [{"name": "postgres", "containerPort": 5432, "hostPort": 15432}]


def _missing_binary(command: list[str]) -> list[str]:
    return [*command[:-1], command[-1] + "-missing"]


FAULTS: dict[str, Fault] = {
    fault.name: fault
    for fault in (
        Fault("core-data-binary-missing", _command("core-data", _missing_binary), "core-data", bound_s=60),
        Fault("core-data-database-port", _env("core-data", DATABASE_PORT="5433"), "core-data", bound_s=60),
        Fault("core-metadata-wrong-port", _env("core-metadata", SERVICE_PORT="59999"), "core-metadata", bound_s=60),
        Fault(
            "database-refuses-password",
            _env("database", POSTGRES_PASSWORD="other", EDGEX_SMOKE_PG_PASSWORD="other"),
            "database",
            bound_s=90,
        ),
        Fault("broker-not-running", _command("mqtt-broker", lambda _: ["sleep", "3600"]), "mqtt-broker", bound_s=90),
        Fault("gateway-config-invalid", _broken_gateway_config, "gateway", bound_s=60),
        Fault("gateway-route-to-closed-port", _gateway_route("device-rest", 59999), "gateway", bound_s=60),
        Fault("gateway-misroute", _gateway_route("core-data", 59882), "gateway", fails=frozenset("b")),
        Fault("database-published", _published_database, "database", fails=frozenset("c")),
        Fault(  # published nowhere, but listening on every address of the pod: only a probe of the pod IP sees it
            "core-data-listens-on-pod-address",
            _env("core-data", SERVICE_SERVERBINDADDR="0.0.0.0"),
            "core-data",
            fails=frozenset("c"),
        ),
        Fault("container-restarted-once", _command("core-command", _fails_first_start), "core-command", frozenset("a")),
        Fault(
            "device-virtual-registers-unreachable-address",
            _env("device-virtual", SERVICE_HOST="unreachable.invalid", SERVICE_SERVERBINDADDR="0.0.0.0"),
            "device-virtual",
            fails=frozenset("g"),
        ),
        Fault(  # its devices do not load either: core-metadata lists none, core-command has none to call
            "device-virtual-publishes-elsewhere",
            _env("device-virtual", MESSAGEBUS_BASETOPICPREFIX="elsewhere"),
            "device-virtual",
            fails=frozenset("def"),
        ),
        Fault(
            "device-rest-publishes-elsewhere",
            _env("device-rest", MESSAGEBUS_BASETOPICPREFIX="elsewhere"),
            "device-rest",
            fails=frozenset("h"),
        ),
        Fault(
            "device-mqtt-publishes-elsewhere",
            _env("device-mqtt", MESSAGEBUS_BASETOPICPREFIX="elsewhere"),
            "device-mqtt",
            fails=frozenset("i"),
        ),
        Fault(
            "device-virtual-without-devices",
            _env("device-virtual", DEVICE_DEVICESDIR="/nonexistent"),
            "device-virtual",
            bound_s=60,
        ),
        Fault("slow-core-metadata-start", _command("core-metadata", _delayed(20)), None),
        Fault("base64-bus-payloads", _edgex_env(EDGEX_MSG_BASE64_PAYLOAD="true"), None),
    )
}


def _secure_configmap(objects: list[KubeObject]) -> KubeObject:
    (config,) = [
        o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith(manifests.SECURE_CONFIGMAP)
    ]
    return config


def _gateway_without_auth(objects: list[KubeObject]) -> None:
    config = _gateway_configmap(objects)
    text, count = re.subn(r"\n\s*auth_request /auth;", "", config["data"]["nginx.conf"])
    assert count, "no auth_request in the gateway configuration: is this a secure render?"
    config["data"]["nginx.conf"] = text


def _broker_allows_anonymous(objects: list[KubeObject]) -> None:
    config = _secure_configmap(objects)
    script = config["data"]["broker.sh"]
    start = "exec mosquitto -c /mosquitto/config/mosquitto.conf"
    assert start in script
    config["data"]["broker.sh"] = script.replace(
        start, f"echo 'allow_anonymous true' >> /mosquitto/config/mosquitto.conf\n{start}"
    )


def _published_secret_store(objects: list[KubeObject]) -> None:
    _container(objects, "secret-store")["ports"] = [{"name": "openbao", "containerPort": 8200, "hostPort": 18200}]


def _secret_store_on_every_address(objects: list[KubeObject]) -> None:
    config = _secure_configmap(objects)
    config["data"]["secret-store.hcl"] = config["data"]["secret-store.hcl"].replace(
        'address     = "127.0.0.1:8200"', 'address     = "0.0.0.0:8200"'
    )


def _restarts_after_setup(command: list[str]) -> list[str]:
    """OpenBao killed once, right after security-secretstore-setup unsealed it: the container restarts it sealed.

    The first start runs it as a child (PID 1 of a container ignores SIGKILL from inside it).
    """
    wait = "/bin/sh /etc/edgex-smoke/start/wait-for.sh tcp:54322"
    script = (
        "if [ ! -e /tmp/edgex-smoke-fault ]; then touch /tmp/edgex-smoke-fault; "
        f'"$@" & child=$!; {wait}; kill -KILL $child; exit 1; fi; exec "$@"'
    )
    return ["/bin/sh", "-c", script, "killed-once", *command]


def _idle(name: str) -> Callable[[list[KubeObject]], None]:
    """The container runs, but its program never starts (its arguments would go to sleep)."""

    def breaks(objects: list[KubeObject]) -> None:
        container = _container(objects, name)
        container["command"] = ["/bin/sleep", "3600"]
        container.pop("args", None)

    return breaks


SECURE_FAULTS: dict[str, Fault] = {
    fault.name: fault
    for fault in (
        Fault("gateway-without-auth", _gateway_without_auth, "gateway", fails=frozenset("jk")),
        Fault("broker-allows-anonymous", _broker_allows_anonymous, "mqtt broker", fails=frozenset("l")),
        Fault("secret-store-published", _published_secret_store, "secret-store", fails=frozenset("c")),
        Fault("secret-store-on-every-address", _secret_store_on_every_address, "secret-store", fails=frozenset("c")),
        Fault("secret-store-sealed", _command("secret-store", _restarts_after_setup), "secret-store", bound_s=60),
        Fault(
            "proxy-auth-down",
            _idle("security-proxy-auth"),
            "security-proxy-auth",
            bound_s=120,
        ),
    )
}
"""Each removes one protection of secure mode (--security on); the check that guards it must fail."""


def pytest_configure(config: pytest.Config) -> None:
    """Break the fault named by `ENV` in every manifest this run renders."""
    fault = {**FAULTS, **SECURE_FAULTS}[os.environ[ENV]]
    render = manifests.render

    def broken_render(**kwargs: Any) -> list[KubeObject]:
        objects = render(**kwargs)
        fault.breaks(objects)
        return objects

    manifests.render = broken_render  # the run's one seam to the manifest
    config.add_cleanup(lambda: setattr(manifests, "render", render))
