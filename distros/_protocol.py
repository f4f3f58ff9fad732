"""The `Distro` contract and the values that cross it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from harness.vocabulary import TargetMode

CRASH_LOOP_RESTARTS = 2
"""A container restarted this often is crash-looping: waiting for it longer proves nothing."""

Progress = Callable[[str], None]
"""Receives one short status line, e.g. ``waiting for 7/9 containers running (12 s)``."""

KubeObject = dict[str, Any]


def no_progress(_line: str) -> None:
    """Discard status lines; the default when nobody watches."""


@dataclass(frozen=True)
class DistroSettings:
    """Everything a driver needs to know about this run; built once, never mutated."""

    run_id: str
    work_dir: Path
    keep: bool = False
    reuse: bool = False
    gateway_http_port: int = 8000
    gateway_mqtt_port: int = 1884
    progress: Progress = no_progress
    kubeconfig: Path | None = None
    """Kubernetes targets: attach to the cluster of this kubeconfig (never modified, never printed)."""
    context: str | None = None
    """Kubernetes targets: the kubeconfig context to use; its current context when None."""
    provision: Literal["attach", "local"] = "attach"
    """``k8s``: attach through `kubeconfig`, or start the lab cluster built on this host (``local``)."""
    reuse_name: str | None = None
    """``--reuse --name``: the kept EdgeX (its pod's name) to attach to; None: the only one kept."""


@dataclass(frozen=True)
class Target:
    """A place EdgeX can run: a podman host or a cluster."""

    distro: str
    name: str
    mode: TargetMode
    created: bool
    """True only if this run created the target; `down` deletes nothing otherwise."""


@dataclass(frozen=True)
class Deployment:
    """One EdgeX pod on a target."""

    pod: str
    run_id: str
    created: bool
    """True only if this run deployed it; `undeploy` removes nothing otherwise."""
    namespace: str | None = None
    objects: tuple[KubeObject, ...] = ()
    gateway_ports: tuple[int, int] | None = None
    """The gateway's host ports (HTTP, MQTT) of a pod found for ``--reuse``; None: this run's own."""


@dataclass(frozen=True)
class ClientAddress:
    """An address a client could use to reach the pod; check c probes the internal ports there.

    The gateway's port on the same address is the positive control: if it does not accept, a closed
    internal port there proves nothing.
    """

    role: str
    """What the address is, for messages: ``pod IP``, ``node IP``, ``host``."""
    address: str
    gateway_port: int
    """The gateway's port as seen at this address (the containerPort on the pod IP, the hostPort elsewhere)."""
    vouched: bool = True
    """True: the driver knows the gateway answers here, so a failed control fails check c. False: a candidate
    (one of this host's addresses), probed for exposure but not required to reach the gateway."""


@dataclass(frozen=True)
class Endpoints:
    """How the test host reaches EdgeX: through the gateway only."""

    gateway_url: str
    gateway_port: int
    mqtt_host: str
    mqtt_port: int
    published_ports: tuple[int, ...] = ()
    """Every port of the pod that the host can reach directly; only the gateway's should be here."""
    ca_path: Path | None = None
    pod_ip: str | None = None
    """The pod's own address, if the host can route to it."""
    client_addresses: tuple[ClientAddress, ...] = ()
    """Every address a client could use to reach the pod, for check c (isolation)."""


@dataclass(frozen=True)
class ContainerState:
    """One container of the EdgeX pod as the target sees it."""

    name: str
    state: str
    ready: bool
    restarts: int
    exit_code: int | None = None
    image: str = ""
    image_digest: str | None = None


@dataclass(frozen=True)
class Fingerprint:
    """Versions and facts of the target, stored in the report."""

    facts: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Distro(Protocol):
    """What every distribution driver provides, from preflight to teardown.

    Drivers are constructed with `DistroSettings` and keep no global state. Every
    method that waits takes a deadline; every method that creates something labels
    it so a later run can reap it.
    """

    name: ClassVar[str]

    def preflight(self, images: Sequence[str]) -> None:
        """Check tools, privileges, free ports and images; create nothing."""

    def up(self) -> Target:
        """Provision the target, or attach to an existing one."""

    def wait_ready(self, target: Target, *, timeout_s: float) -> None:
        """Wait until the target can run pods."""

    def fingerprint(self, target: Target) -> Fingerprint:
        """Describe the target's versions and facts."""

    def reap(self, target: Target) -> list[str]:
        """Remove leftovers of crashed earlier runs, found by label; return what was removed."""

    def can_pull(self, image: str) -> bool:
        """Tell, before anything is created, whether the target can pull `image` now (a manifest probe, no layers)."""

    def load_images(self, target: Target, images: Sequence[str]) -> None:
        """Make `images` available to the target without a registry where possible."""

    def image_digests(self, images: Sequence[str]) -> dict[str, str | None]:
        """Map each image reference to the digest the target runs (None where it cannot tell)."""

    def deploy(self, target: Target, objects: Sequence[KubeObject]) -> Deployment:
        """Apply the rendered manifest."""

    def find_deployment(self, target: Target) -> Deployment:
        """Attach to an EdgeX pod deployed earlier (for ``--reuse``)."""

    def wait_deployed(self, target: Target, deployment: Deployment, *, timeout_s: float) -> None:
        """Wait until every container of the pod runs."""

    def containers(self, target: Target, deployment: Deployment) -> list[ContainerState]:
        """Return the state of every container of the pod."""

    def logs(self, target: Target, deployment: Deployment, container: str, *, tail_lines: int) -> str:
        """The last `tail_lines` lines one container wrote (its previous run's if it restarted); never raises."""

    def endpoints(self, target: Target, deployment: Deployment) -> Endpoints:
        """Return the gateway's HTTP URL and the MQTT endpoint reachable from the host."""

    def container_host(self, target: Target, deployment: Deployment, container: str) -> Any:
        """Return a testinfra host for one container of the pod."""

    def collect_diagnostics(self, target: Target, deployment: Deployment | None, dest: Path) -> list[Path]:
        """Save logs, events and inspect output under `dest`; best effort, never raises."""

    def undeploy(self, target: Target, deployment: Deployment) -> None:
        """Remove the pod and what came with it, if this run created them."""

    def down(self, target: Target) -> None:
        """Remove the target, if this run created it."""


DistroFactory = Callable[[DistroSettings], Distro]
