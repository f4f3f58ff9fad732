"""Distribution drivers behind one `Distro` contract, looked up by name.

The registry maps each ``--distro`` value to ``module:Class`` and imports the
driver only when it is asked for, so ``pytest --help`` imports no driver.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from distros._protocol import (
    CRASH_LOOP_RESTARTS,
    ClientAddress,
    ContainerState,
    Deployment,
    Distro,
    DistroFactory,
    DistroSettings,
    Endpoints,
    Fingerprint,
    KubeObject,
    Progress,
    Target,
)
from distros._sideload import podman_image_labels as local_image_labels
from harness.errors import SmokeError

__all__ = [
    "CRASH_LOOP_RESTARTS",
    "DISTROS",
    "ClientAddress",
    "ContainerState",
    "Deployment",
    "Distro",
    "DistroSettings",
    "Endpoints",
    "Fingerprint",
    "KubeObject",
    "Progress",
    "Registered",
    "Target",
    "UnknownDistroError",
    "local_image_labels",
    "local_provision_names",
    "make_distro",
    "names",
]

DEFAULT_DISTRO = "podman"


@dataclass(frozen=True)
class Registered:
    """One ``--distro`` value: where its driver is, and what it can do."""

    factory: str
    """``module:Class``, imported only when the distro is asked for."""
    local_provision: bool = False
    """True if ``--provision local`` can use a cluster running on this host."""


DISTROS: dict[str, Registered] = {
    "podman": Registered("distros.podman:PodmanDistro"),
    "k8s": Registered("distros.k8s:K8sDistro", local_provision=True),
    "k3s": Registered("distros.k3s:K3sDistro"),
    "microk8s": Registered("distros.microk8s:MicroK8sDistro"),
    "kubeedge": Registered("distros.kubeedge:KubeEdgeDistro", local_provision=True),
}
"""The one list of targets: options, help, docs, tests and the table all derive from it."""


class UnknownDistroError(SmokeError, LookupError):
    """A distro name that is not in the registry."""


def names() -> list[str]:
    """Return the registered distro names, sorted."""
    return sorted(DISTROS)


def local_provision_names() -> list[str]:
    """Return the distros that ``--provision local`` supports, sorted."""
    return sorted(name for name, entry in DISTROS.items() if entry.local_provision)


def make_distro(name: str, settings: DistroSettings) -> Distro:
    """Build the driver registered as `name`."""
    try:
        target = DISTROS[name]
    except KeyError:
        raise UnknownDistroError(f"Unknown distro {name!r}; choose one of: {', '.join(names())}") from None
    module_name, class_name = target.factory.split(":")
    factory: DistroFactory = getattr(importlib.import_module(module_name), class_name)
    return factory(settings)


if TYPE_CHECKING:
    from distros.k3s import K3sDistro
    from distros.k8s import K8sDistro
    from distros.kubeedge import KubeEdgeDistro
    from distros.microk8s import MicroK8sDistro
    from distros.podman import PodmanDistro

    _conforming: list[DistroFactory] = [PodmanDistro, K8sDistro, K3sDistro, MicroK8sDistro, KubeEdgeDistro]
