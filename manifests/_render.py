"""Render the single EdgeX pod: ConfigMaps, then the Pod, as plain dicts.

Steps, each from one data file (see manifests/README.md):

1. `releases/<release>/pod.yaml`, the distro-neutral pod;
2. the gateway's ports from the renderer's parameters (containerPort = hostPort);
3. images and pull policies from `release.yaml`'s catalog and the image source, and the EdgeX
   service ports reserved from the pod's ephemeral port range (`reserved_ports`);
4. the image-source patch `images/<lab|upstream>.yaml`, if there is one;
5. with ``security="on"``, the release's secure patch `releases/<release>/secure/patch.yaml`, and
   the images of the containers it adds, from `release.yaml`'s ``security_images``;
6. the distro overlay `overlays/<distro>/patch.yaml`;
7. the run's labels on every object, then the pod's invariants are checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from harness import labels as run_labels
from harness.errors import ManifestError
from manifests import _files, _gateway, _patch, _profile
from manifests._images import ImageSource

IMAGES_DIR = _files.ROOT / "images"
OVERLAYS_DIR = _files.ROOT / "overlays"
OVERLAY_FILE = "patch.yaml"

SECURITY_MODES: tuple[str, ...] = ("off", "on")
"""Security modes that render (``on`` only for a release with a secure profile)."""
PLANNED_SECURITY_MODES: tuple[str, ...] = ()
"""Security modes that are known but not implemented yet."""

POD_NAME = "edgex"
"""The pod's name when the caller gives none; a smoke run names it after itself (`harness.labels.instance_name`)."""
COMMON_CONFIGMAP = "-common-config"
GATEWAY_CONFIGMAP = "-gateway-config"
BROKER_CONFIGMAP = "-broker-config"
START_CONFIGMAP = "-start"
SECURE_CONFIGMAP = "-secure"
"""The ConfigMaps' names are the pod's name with these suffixes, so two runs' objects never share a name."""
MAX_NAME_LENGTH = 40
"""Room for the longest suffix within a 63-character name (podman names volumes and containers after them)."""
COMMON_CONFIG_KEY = "configuration.yaml"
GATEWAY_CONFIG_KEY = "nginx.conf"
BROKER_CONFIG_KEY = "mosquitto.conf"
START_SCRIPT_KEY = "wait-for.sh"

GATEWAY_HTTP_PORT = 8000
GATEWAY_MQTT_PORT = 1884
GATEWAY_PORT_NAMES = ("http", "mqtt")


_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_PATCH_KEYS = frozenset({"metadata", "spec"})


def available_overlays() -> tuple[str, ...]:
    """Return the distros that have an overlay, sorted."""
    return tuple(sorted(p.parent.name for p in OVERLAYS_DIR.glob(f"*/{OVERLAY_FILE}")))


def gateway_config(
    release: str,
    *,
    http_port: int = GATEWAY_HTTP_PORT,
    mqtt_port: int = GATEWAY_MQTT_PORT,
    ports: Mapping[str, int] | None = None,
    listen_host: str | None = None,
    runtime_dir: str = _gateway.RUNTIME_DIR,
    security: str = "off",
) -> str:
    """Return the gateway's nginx.conf for `release`, generated from its service table.

    Args:
        release: Release profile name, e.g. ``"4.0"``.
        http_port: Port of the gateway's HTTP server.
        mqtt_port: Port of the gateway's MQTT stream server.
        ports: Upstream ports to use instead of the profile's, keyed by service
            name or by the broker's container name (``mqtt-broker``); tests map
            them to free ports.
        listen_host: Address the gateway listens on; ``None`` means every address.
        runtime_dir: Directory for nginx's pid file and temp paths.
        security: ``"on"``: TLS on both ports, every route checked by security-proxy-auth.

    Raises:
        ManifestError: Unknown release, unknown key in `ports`, or an invalid port.
    """
    info = _profile.release_info(release)
    overrides = dict(ports or {})
    known = [*info.ports, info.broker.container]
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise ManifestError(
            f"gateway ports: no service {unknown[0]!r} in EdgeX {release}; choose from: {', '.join(known)}"
        )
    routes = {name: overrides.get(name, port) for name, port in info.ports.items()}
    tls = None
    if security == "on":
        if info.proxy_auth is None or info.secret_store is None:
            raise ManifestError(f"EdgeX {release} has no secure profile; use security 'off'")
        tls = _gateway.Tls(proxy_auth_port=info.proxy_auth.port, secret_store_port=info.secret_store.port)
    return _gateway.nginx_conf(
        routes,
        http_port=http_port,
        mqtt_port=mqtt_port,
        broker_port=overrides.get(info.broker.container, info.broker.port),
        listen_host=listen_host,
        runtime_dir=runtime_dir,
        tls=tls,
    )


def _check_choice(what: str, value: str, choices: Iterable[str]) -> None:
    choices = tuple(choices)
    if value not in choices:
        raise ManifestError(f"Unknown {what} {value!r}; choose one of: {', '.join(choices)}")


def _check_security(security: str, info: _profile.ReleaseInfo) -> None:
    if security in PLANNED_SECURITY_MODES:
        raise ManifestError(f"security {security!r} is not implemented yet; use security 'off'")
    _check_choice("security mode", security, SECURITY_MODES)
    if security == "on" and info.secure_directory is None:
        raise ManifestError(
            f"EdgeX {info.release} has no secure profile (releases/{info.release}/secure/); use security 'off'"
        )


def _check_run_id(run_id: str) -> None:
    if not run_labels.is_label_value(run_id):
        raise ManifestError(
            f"run id {run_id!r} is not a valid label value; use 1-63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )


def _containers(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = pod.get("spec", {}).get("containers", [])
    return containers


def _set_gateway_ports(pod: dict[str, Any], gateway: str, *, http_port: int, mqtt_port: int) -> None:
    wanted = {"http": http_port, "mqtt": mqtt_port}
    for name, port in wanted.items():
        _gateway.check_port(f"{name} port", port)
    if http_port == mqtt_port:
        raise ManifestError(f"gateway: http and mqtt ports are both {http_port}; use two different ports")
    container = next((c for c in _containers(pod) if c.get("name") == gateway), None)
    declared = {p.get("name"): p for p in (container or {}).get("ports", [])}
    if container is None or set(declared) != set(GATEWAY_PORT_NAMES):
        raise ManifestError(
            f"pod.yaml: container {gateway!r} must declare exactly the ports "
            f"{', '.join(GATEWAY_PORT_NAMES)}; restore them"
        )
    for name, port in wanted.items():
        # containerPort follows hostPort: hostNetwork overlays require them equal.
        declared[name]["containerPort"] = port
        declared[name]["hostPort"] = port


RESERVED_PORTS_SYSCTL = "net.ipv4.ip_local_reserved_ports"


EPHEMERAL_PORTS = range(32768, 61000)
"""Linux's default ``net.ipv4.ip_local_port_range`` (32768-60999)."""


def reserved_ports(info: _profile.ReleaseInfo) -> str:
    """The value of `RESERVED_PORTS_SYSCTL` for `info`'s pod: every port of it in the ephemeral range, sorted.

    All containers of the pod share one network namespace, and EdgeX's ports (59880-59986) lie in
    Linux's default ephemeral range (32768-60999): an outgoing connection of any container (a
    database pool, an MQTT client) can take one as its source port, and the service that owns it
    then fails to bind ("address already in use"). Reserved ports are never handed out as source
    ports, yet a service can still listen on them. It is a namespaced, "safe" sysctl (Kubernetes
    >= 1.27, podman kube play >= 4.6); node-wide under hostNetwork, so overlays with hostNetwork drop it.
    Secure mode's listeners (proxy-auth, secretstore-setup, the stage gates) are in the range too;
    they are reserved in both modes, so that one value serves every pod of the release.
    """
    ports = set(info.ports.values()) | set(info.secure_listeners.values())
    if info.proxy_auth is not None:
        ports.add(info.proxy_auth.port)
    return ",".join(str(port) for port in sorted(ports) if port in EPHEMERAL_PORTS)


def _reserve_service_ports(pod: dict[str, Any], info: _profile.ReleaseInfo) -> None:
    context = pod["spec"].setdefault("securityContext", {})
    sysctls = [s for s in context.get("sysctls", []) if s.get("name") != RESERVED_PORTS_SYSCTL]
    context["sysctls"] = [*sysctls, {"name": RESERVED_PORTS_SYSCTL, "value": reserved_ports(info)}]


def _set_security_images(pod: dict[str, Any], info: _profile.ReleaseInfo, images: ImageSource) -> None:
    """Give the containers the secure patch added their images, from ``security_images``."""
    profile = _files.shown(info.directory / _profile.PROFILE_FILE)
    for container in _containers(pod):
        if container.get("image"):
            continue
        refs = info.security_images.get(container["name"])
        if refs is None:
            raise ManifestError(
                f"{profile}: security_images has no entry for container {container['name']!r}; "
                "add its upstream and lab refs"
            )
        container["image"] = images.reference(upstream=refs.upstream, lab=refs.lab)
        container["imagePullPolicy"] = images.pull_policy


def _set_images(pod: dict[str, Any], info: _profile.ReleaseInfo, images: ImageSource) -> None:
    profile = _files.shown(info.directory / _profile.PROFILE_FILE)
    names = [c.get("name") for c in _containers(pod)]
    missing = [name for name in names if name not in info.images]
    extra = [name for name in info.images if name not in names]
    if missing:
        raise ManifestError(
            f"{profile}: images has no entry for container {missing[0]!r}; add its upstream and lab refs"
        )
    if extra:
        raise ManifestError(f"{profile}: images.{extra[0]} matches no container of pod.yaml; remove it or fix the name")
    containers = []
    for container in _containers(pod):
        refs = info.images[container["name"]]
        containers.append(
            {
                "name": container["name"],
                "image": images.reference(upstream=refs.upstream, lab=refs.lab),
                "imagePullPolicy": images.pull_policy,
                **{key: value for key, value in container.items() if key not in ("name", "image", "imagePullPolicy")},
            }
        )
    pod["spec"]["containers"] = containers


def _labelled(obj: dict[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    metadata = obj.setdefault("metadata", {})
    metadata["labels"] = {**metadata.get("labels", {}), **labels}
    return obj


def _check_pod(pod: Mapping[str, Any], gateway: str, source: str) -> None:
    for container in _containers(pod):
        name = container.get("name")
        if not container.get("image"):
            raise ManifestError(f"{source}: container {name!r} has no image; give it one or fix its name")
        if name == gateway:
            continue
        for port in container.get("ports", []):
            if port.get("hostPort"):
                raise ManifestError(
                    f"{source}: container {name!r} publishes hostPort {port['hostPort']}; "
                    f"only {gateway!r} may have hostPorts, remove it"
                )


def _configmap(name: str, key: str, text: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {key: text}}


def check_name(name: str) -> None:
    """Raise `ManifestError` unless `name` can name the pod: an RFC 1123 label of at most `MAX_NAME_LENGTH`."""
    if not _DNS_LABEL.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
        raise ManifestError(
            f"name {name!r} cannot name the EdgeX pod; use 1-{MAX_NAME_LENGTH} lower-case letters, digits "
            "and '-', starting and ending with a letter or digit"
        )


def configmap_names(name: str) -> list[str]:
    """The ConfigMaps a pod `name` may have (podman turns each into a volume of that name); secure mode's too."""
    suffixes = (COMMON_CONFIGMAP, GATEWAY_CONFIGMAP, BROKER_CONFIGMAP, START_CONFIGMAP, SECURE_CONFIGMAP)
    return [name + suffix for suffix in suffixes]


def _name_objects(pod: dict[str, Any], name: str) -> None:
    """Name the pod `name` and point its ConfigMap volumes at the ConfigMaps named after it."""
    pod.setdefault("metadata", {})["name"] = name
    for volume in pod.get("spec", {}).get("volumes", []):
        source = volume.get("configMap")
        if source and str(source.get("name", "")).startswith(POD_NAME + "-"):
            source["name"] = name + str(source["name"]).removeprefix(POD_NAME)


def render(
    *,
    release: str,
    distro: str,
    images: ImageSource,
    security: str = "off",
    run_id: str,
    gateway_http_port: int = GATEWAY_HTTP_PORT,
    gateway_mqtt_port: int = GATEWAY_MQTT_PORT,
    name: str = POD_NAME,
) -> list[dict[str, Any]]:
    """Render the single EdgeX pod for one run.

    Args:
        release: Release profile, one of `RELEASES`.
        distro: Distro overlay, one of `OVERLAYS`.
        images: Where images come from (`ImageSource.parse` of ``--images``).
        security: One of `SECURITY_MODES`; ``"on"`` adds EdgeX's security services (the release's secure profile).
        run_id: Value of the ``edgex-smoke/run-id`` label on every object.
        gateway_http_port: The gateway's HTTP port (hostPort and containerPort).
        gateway_mqtt_port: The gateway's MQTT port (hostPort and containerPort).
        name: The pod's name; the ConfigMaps are named after it (``<name>-gateway-config``, …).

    Returns:
        The ConfigMaps (common config, gateway, broker, start script, and in secure mode the
        secure profile's scripts), then the Pod.

    Raises:
        ManifestError: An unknown or unavailable value, or an invalid data file.
    """
    info = _profile.release_info(release)
    _check_choice("distro overlay", distro, available_overlays())
    _check_security(security, info)
    _check_run_id(run_id)
    check_name(name)

    pod_path = info.directory / _profile.POD_FILE
    pod = _files.load_mapping(pod_path)
    _set_gateway_ports(pod, info.gateway_container, http_port=gateway_http_port, mqtt_port=gateway_mqtt_port)
    _set_images(pod, info, images)
    _reserve_service_ports(pod, info)
    image_patch = IMAGES_DIR / f"{images.patch_name}.yaml"
    if image_patch.exists():
        pod = _patch.apply_file(pod, image_patch, allowed=_PATCH_KEYS)
    secure = info.secure_directory if security == "on" else None
    if secure is not None:
        pod = _patch.apply_file(pod, secure / _profile.SECURE_PATCH_FILE, allowed=_PATCH_KEYS)
        _set_security_images(pod, info, images)
    pod = _patch.apply_file(pod, OVERLAYS_DIR / distro / OVERLAY_FILE, allowed=_PATCH_KEYS)
    _check_pod(pod, info.gateway_container, f"{_files.shown(pod_path)} with --images {images} and overlay {distro}")
    _name_objects(pod, name)

    labels = run_labels.identity_labels(run_id)
    configmaps = [
        _configmap(
            name + COMMON_CONFIGMAP, COMMON_CONFIG_KEY, _files.read_text(info.directory / _profile.COMMON_CONFIG_FILE)
        ),
        _configmap(
            name + GATEWAY_CONFIGMAP,
            GATEWAY_CONFIG_KEY,
            gateway_config(release, http_port=gateway_http_port, mqtt_port=gateway_mqtt_port, security=security),
        ),
        _configmap(
            name + BROKER_CONFIGMAP, BROKER_CONFIG_KEY, _files.read_text(info.directory / _profile.BROKER_CONFIG_FILE)
        ),
        _configmap(
            name + START_CONFIGMAP, START_SCRIPT_KEY, _files.read_text(info.directory / _profile.START_SCRIPT_FILE)
        ),
    ]
    if secure is not None:
        scripts = {
            path.name: _files.read_text(path)
            for path in sorted(secure.iterdir())
            if path.is_file() and path.name != _profile.SECURE_PATCH_FILE
        }
        configmaps.append(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name + SECURE_CONFIGMAP}, "data": scripts}
        )
    return [_labelled(obj, labels) for obj in [*configmaps, pod]]


def image_refs(objects: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Return container name → image for every container of the rendered Pod(s)."""
    return {
        container["name"]: container["image"]
        for obj in objects
        if obj.get("kind") == "Pod"
        for container in _containers(obj)
    }


class _Dumper(yaml.SafeDumper):
    """Block style, multi-line strings as ``|`` literals, and never anchors or aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def to_yaml(objects: Iterable[Mapping[str, Any]]) -> str:
    """Return `objects` as one multi-document YAML stream for ``podman kube play`` or kubectl."""
    return yaml.dump_all(
        [dict(obj) for obj in objects], Dumper=_Dumper, sort_keys=False, explicit_start=True, width=120
    )
