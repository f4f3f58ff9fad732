"""The single-pod EdgeX manifest: release profiles, image sources, distro overlays and the renderer.

Data lives next to the code (see manifests/README.md): `releases/<release>/`
holds the distro-neutral pod, the release profile and the config files;
`images/` and `overlays/<distro>/` hold patches only.

Example:
    >>> objects = render(release="4.0", distro="podman", images=ImageSource.parse("lab"), run_id="r1")
    >>> text = to_yaml(objects)  # for `podman kube play`
"""

from __future__ import annotations

from manifests._gateway import SERVER_NAME as GATEWAY_SERVER_NAME
from manifests._images import IMAGE_SOURCES, IMAGE_SOURCES_HELP, ImageSource, mirror_reference, runtime_reference
from manifests._profile import Endpoint, ImageRefs, ReleaseInfo, Service, available_releases, release_info
from manifests._render import (
    BROKER_CONFIGMAP,
    COMMON_CONFIGMAP,
    GATEWAY_CONFIGMAP,
    GATEWAY_HTTP_PORT,
    GATEWAY_MQTT_PORT,
    MAX_NAME_LENGTH,
    PLANNED_SECURITY_MODES,
    POD_NAME,
    RESERVED_PORTS_SYSCTL,
    SECURE_CONFIGMAP,
    SECURITY_MODES,
    available_overlays,
    check_name,
    configmap_names,
    gateway_config,
    image_refs,
    render,
    reserved_ports,
    to_yaml,
)

RELEASES: tuple[str, ...] = available_releases()
"""Releases with a profile under releases/, e.g. ``("4.0",)``."""

OVERLAYS: tuple[str, ...] = available_overlays()
"""Distros with an overlay under overlays/, e.g. ``("podman",)``."""

__all__ = [
    "BROKER_CONFIGMAP",
    "COMMON_CONFIGMAP",
    "GATEWAY_CONFIGMAP",
    "GATEWAY_HTTP_PORT",
    "GATEWAY_MQTT_PORT",
    "GATEWAY_SERVER_NAME",
    "IMAGE_SOURCES",
    "IMAGE_SOURCES_HELP",
    "MAX_NAME_LENGTH",
    "OVERLAYS",
    "PLANNED_SECURITY_MODES",
    "POD_NAME",
    "RELEASES",
    "RESERVED_PORTS_SYSCTL",
    "SECURE_CONFIGMAP",
    "SECURITY_MODES",
    "Endpoint",
    "ImageRefs",
    "ImageSource",
    "ReleaseInfo",
    "Service",
    "check_name",
    "configmap_names",
    "gateway_config",
    "image_refs",
    "mirror_reference",
    "release_info",
    "render",
    "reserved_ports",
    "runtime_reference",
    "to_yaml",
]
