"""Release profiles: `releases/<release>/release.yaml` read into frozen values."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from harness.errors import ManifestError
from manifests import _files

RELEASES_DIR = _files.ROOT / "releases"
PROFILE_FILE = "release.yaml"
POD_FILE = "pod.yaml"
COMMON_CONFIG_FILE = "common-configuration.yaml"
BROKER_CONFIG_FILE = "mosquitto.conf"
START_SCRIPT_FILE = "wait-for.sh"
SECURE_DIR = "secure"
"""The secure profile of a release: its pod patch and the scripts of ConfigMap <pod>-secure."""
SECURE_PATCH_FILE = "patch.yaml"

_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


def available_releases() -> tuple[str, ...]:
    """Return the releases that have a profile, sorted."""
    return tuple(sorted(p.parent.name for p in RELEASES_DIR.glob(f"*/{PROFILE_FILE}")))


@dataclass(frozen=True)
class Service:
    """One EdgeX HTTP service of the pod, reached through the gateway."""

    name: str
    container: str
    port: int

    @property
    def route(self) -> str:
        """The gateway path prefix, e.g. ``/core-data/``."""
        return f"/{self.name}/"


@dataclass(frozen=True)
class Endpoint:
    """An infrastructure container and the loopback port it serves."""

    container: str
    port: int


@dataclass(frozen=True)
class ImageRefs:
    """The two references of one component: upstream (Docker Hub short name) and lab."""

    upstream: str
    lab: str


@dataclass(frozen=True)
class ReleaseInfo:
    """What a release profile says: versions, services and ports, gateway routes, image catalog."""

    release: str
    edgex_version: str
    api_version: str
    services: tuple[Service, ...]
    database: Endpoint
    broker: Endpoint
    gateway_container: str
    images: Mapping[str, ImageRefs]
    directory: Path
    security_images: Mapping[str, ImageRefs] = field(default_factory=lambda: MappingProxyType({}))
    """The images secure mode (``--security on``) adds to the pod: EdgeX's security services."""
    proxy_auth: Endpoint | None = None
    """Secure mode: where the gateway's ``auth_request`` goes (security-proxy-auth)."""
    secret_store: Endpoint | None = None
    """Secure mode: OpenBao, whose two token endpoints the gateway passes through."""
    secure_listeners: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Secure mode: every listener the secure pod adds (proxy-auth, OpenBao, setup, stage gates) by name."""

    @property
    def secure_directory(self) -> Path | None:
        """The release's secure profile, or None if it has none."""
        directory = self.directory / SECURE_DIR
        return directory if (directory / SECURE_PATCH_FILE).is_file() else None

    @property
    def ports(self) -> dict[str, int]:
        """Service name → loopback port inside the pod."""
        return {service.name: service.port for service in self.services}

    @property
    def port_owners(self) -> dict[int, str]:
        """Loopback port inside the pod → the container that should listen on it (services, infrastructure).

        The secure-mode endpoints are included: nothing else listens on their ports, and only a
        secure pod's logs name them.
        """
        owners = {service.port: service.container for service in self.services}
        for endpoint in (self.database, self.broker, self.secret_store, self.proxy_auth):
            if endpoint is not None:
                owners[endpoint.port] = endpoint.container
        return owners

    @property
    def gateway_routes(self) -> dict[str, str]:
        """Service name → gateway path prefix (``/core-data/``)."""
        return {service.name: service.route for service in self.services}

    def service(self, name: str) -> Service:
        """Return the service called `name`, or raise `ManifestError` listing the services."""
        for service in self.services:
            if service.name == name:
                return service
        raise ManifestError(
            f"EdgeX {self.release}: no service {name!r}; choose one of: {', '.join(s.name for s in self.services)}"
        )


class _Reader:
    """Typed access to the keys of one profile file, with messages naming file and key."""

    def __init__(self, path: Path) -> None:
        self.source = _files.shown(path)
        self.data = _files.load_mapping(path)

    def fail(self, key: str, problem: str, fix: str) -> ManifestError:
        return ManifestError(f"{self.source}: {key} {problem}; {fix}")

    def get(self, data: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
        value = data.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise self.fail(f"{where}{key}", f"is {value!r}", f"write a {kind.__name__}")
        return value

    def port(self, data: Mapping[str, Any], where: str) -> int:
        port: int = self.get(data, "port", int, where)
        if not 1 <= port <= 65535:
            raise self.fail(f"{where}port", f"is {port}", "write a TCP port between 1 and 65535")
        return port

    def name(self, data: Mapping[str, Any], key: str, where: str) -> str:
        name: str = self.get(data, key, str, where)
        if not _NAME.match(name):
            raise self.fail(f"{where}{key}", f"is {name!r}", "write a lowercase DNS label such as core-data")
        return name

    def endpoint(self, key: str) -> Endpoint:
        data = self.get(self.data, key, dict, "")
        return Endpoint(self.name(data, "container", f"{key}."), self.port(data, f"{key}."))


def _read(release: str, path: Path) -> ReleaseInfo:
    reader = _Reader(path)
    data = reader.data
    if str(data.get("release")) != release:
        raise reader.fail("release", f"is {data.get('release')!r}", f"write {release!r}, the name of its directory")
    services = []
    for index, item in enumerate(reader.get(data, "services", list, "")):
        where = f"services[{index}]."
        if not isinstance(item, dict):
            raise reader.fail(where.rstrip("."), f"is {item!r}", "write a mapping with name, container and port")
        services.append(
            Service(reader.name(item, "name", where), reader.name(item, "container", where), reader.port(item, where))
        )
    images = _image_catalog(reader, reader.get(data, "images", dict, ""), "images")
    security_images = _image_catalog(reader, data.get("security_images") or {}, "security_images")
    security = data.get("security") or {}
    if not isinstance(security, dict):
        raise reader.fail("security", f"is {security!r}", "write a mapping with proxy_auth and secret_store")
    secure_endpoints = {
        key: Endpoint(reader.name(item, "container", f"security.{key}."), reader.port(item, f"security.{key}."))
        for key in ("proxy_auth", "secret_store")
        if isinstance(item := security.get(key), dict)
    }
    listeners = {endpoint.container: endpoint.port for endpoint in secure_endpoints.values()}
    for key, port in (security.get("internal_ports") or {}).items():
        listeners[str(key)] = reader.port({"port": port}, f"security.internal_ports.{key}.")
    gateway = reader.get(data, "gateway", dict, "")
    return ReleaseInfo(
        release=release,
        edgex_version=str(reader.get(data, "edgex_version", str, "")),
        api_version=str(reader.get(data, "api_version", str, "")),
        services=tuple(services),
        database=reader.endpoint("database"),
        broker=reader.endpoint("broker"),
        gateway_container=reader.name(gateway, "container", "gateway."),
        images=MappingProxyType(images),
        directory=path.parent,
        security_images=MappingProxyType(security_images),
        proxy_auth=secure_endpoints.get("proxy_auth"),
        secret_store=secure_endpoints.get("secret_store"),
        secure_listeners=MappingProxyType(listeners),
    )


def _image_catalog(reader: _Reader, catalog: Mapping[str, Any], key: str) -> dict[str, ImageRefs]:
    images: dict[str, ImageRefs] = {}
    for component, refs in catalog.items():
        where = f"{key}.{component}."
        if not isinstance(refs, dict):
            raise reader.fail(where.rstrip("."), f"is {refs!r}", "write a mapping with upstream and lab")
        images[str(component)] = ImageRefs(
            reader.get(refs, "upstream", str, where), reader.get(refs, "lab", str, where)
        )
    return images


@functools.cache
def release_info(release: str) -> ReleaseInfo:
    """Return the profile of `release` (e.g. ``"4.0"``).

    Raises:
        ManifestError: The release is unknown or its profile is invalid.
    """
    if release not in available_releases():
        raise ManifestError(f"Unknown EdgeX release {release!r}; choose one of: {', '.join(available_releases())}")
    return _read(release, RELEASES_DIR / release / PROFILE_FILE)
