"""Distribution drivers behind one `Distro` contract, looked up by name.

The registry maps each ``--distro`` value to ``module:Class`` and imports the
driver only when it is asked for, so ``pytest --help`` imports no driver.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from distros._protocol import (
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
from harness.errors import SmokeError

__all__ = [
    "DISTROS",
    "ContainerState",
    "Deployment",
    "Distro",
    "DistroSettings",
    "Endpoints",
    "Fingerprint",
    "KubeObject",
    "Progress",
    "Target",
    "UnknownDistroError",
    "make_distro",
    "names",
]

DEFAULT_DISTRO = "podman"

DISTROS: dict[str, str] = {
    "podman": "distros.podman:PodmanDistro",
    "k8s": "distros.k8s:K8sDistro",
    "k3s": "distros.k3s:K3sDistro",
    "microk8s": "distros.microk8s:MicroK8sDistro",
    "kubeedge": "distros.kubeedge:KubeEdgeDistro",
}


class UnknownDistroError(SmokeError, LookupError):
    """A distro name that is not in the registry."""


def names() -> list[str]:
    """Return the registered distro names, sorted."""
    return sorted(DISTROS)


def make_distro(name: str, settings: DistroSettings) -> Distro:
    """Build the driver registered as `name`."""
    try:
        target = DISTROS[name]
    except KeyError:
        raise UnknownDistroError(f"Unknown distro {name!r}; choose one of: {', '.join(names())}") from None
    module_name, class_name = target.split(":")
    factory: DistroFactory = getattr(importlib.import_module(module_name), class_name)
    return factory(settings)


if TYPE_CHECKING:
    from distros.k3s import K3sDistro
    from distros.k8s import K8sDistro
    from distros.kubeedge import KubeEdgeDistro
    from distros.microk8s import MicroK8sDistro
    from distros.podman import PodmanDistro

    _conforming: list[DistroFactory] = [PodmanDistro, K8sDistro, K3sDistro, MicroK8sDistro, KubeEdgeDistro]
