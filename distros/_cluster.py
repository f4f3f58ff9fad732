"""The base of the Kubernetes-family drivers (k8s, k3s, microk8s, kubeedge): the EdgeX pod on a cluster.

Drivers never import each other, so what they share lives here, on `_kube`, `_host` and `_sideload`:

- `Workload`: the EdgeX pod in a run-owned namespace of one cluster (deploy, wait,
  containers, endpoints, exec, diagnostics, undeploy, reap), every API call through
  `_kube.KubeClient`;
- `ClusterDistro`: the `Distro` contract on top of one `Workload`. A driver says how to
  reach its cluster (`ClusterDistro._connection`) and, when this host runs the node,
  its containerd (`ClusterDistro._node_runtime`); it adds only what differs: how the
  cluster is found, installed or joined, its facts and its own logs.
"""

from __future__ import annotations

import functools
import logging
import platform
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, ClassVar

from distros import _host, _hostcheck, _kube, _reuse, _sideload
from distros._protocol import (
    ClientAddress,
    ContainerState,
    Deployment,
    DistroSettings,
    Endpoints,
    Fingerprint,
    KubeObject,
    Target,
)
from harness import labels as run_labels
from harness import reach
from harness.errors import InfraError, PreflightError, SmokeError

log = logging.getLogger(__name__)

DELETE_TIMEOUT_S = 180.0


def _pod_object(objects: Sequence[KubeObject], subject: str) -> KubeObject:
    pods = [o for o in objects if o.get("kind") == "Pod"]
    if len(pods) != 1:
        raise InfraError(f"{subject}: the manifest must hold exactly one Pod, found {len(pods)}; check the renderer")
    return pods[0]


class Workload:
    """The EdgeX pod in a run-owned namespace of one cluster, through `_kube.KubeClient`.

    Holds the verbs every Kubernetes-based driver needs once it has a client:
    reap, deploy, wait, containers, endpoints, exec, digests, diagnostics and
    undeploy. Deleting only ever touches the run's own namespace.

    The client comes from `connect`, called on the first API call only: undeploying
    a deployment this run did not create needs no cluster at all.
    """

    def __init__(self, connect: Callable[[], _kube.KubeClient], settings: DistroSettings, *, subject: str) -> None:
        self._connect = connect
        self._kube: _kube.KubeClient | None = None
        self.settings = settings
        self.subject = subject
        self._forwards = ExitStack()
        self._endpoints: dict[str, Endpoints] = {}
        self._deployment: Deployment | None = None

    @property
    def kube(self) -> _kube.KubeClient:
        """The API client, made by `connect` on first use."""
        if self._kube is None:
            self._kube = self._connect()
        return self._kube

    def close(self) -> None:
        """Stop port-forwards and close the client's connections (if it was ever made)."""
        self._forwards.close()
        self._endpoints.clear()
        if self._kube is not None:
            self._kube.close()
            self._kube = None

    def namespace_of(self, deployment: Deployment) -> str:
        if deployment.namespace is None:
            raise InfraError(
                f"{self.subject}: deployment of pod {deployment.pod} has no namespace; "
                f"it was not made by {self.subject}"
            )
        return deployment.namespace

    # -- preflight --------------------------------------------------------------------------------------

    def check_gateway_ports(self) -> None:
        """Fail if another pod holds the gateway's hostPorts, or (node = this host) another process does."""
        ports = (self.settings.gateway_http_port, self.settings.gateway_mqtt_port)
        try:
            taken = self.kube.pods_with_host_ports(ports)
        except InfraError as err:
            log.info("%s: cannot list pods to check host ports (%s); skipping that check", self.subject, err)
            return
        if taken:
            pod, port, node = taken[0]
            namespace = pod.split("/", 1)[0]
            ours = {edgex.where: edgex for edgex in self._running_edgex()}
            if namespace in ours:
                advice = _reuse.port_advice(ours[namespace], port, remove=f"kubectl delete namespace {namespace}")
                raise PreflightError(f"{self.subject}: {advice}")
            raise PreflightError(
                f"{self.subject}: host port {port} is taken by pod {pod} on node {node or '?'}, not an edgex-smoke "
                "pod; delete that pod, or give this run other --gateway-ports"
            )
        try:
            local = [ip for node in self.kube.nodes() if (ip := _kube.node_address(node)) and _kube.local_address(ip)]
        except InfraError:
            return
        if local:
            _hostcheck.require_free_ports(
                ports,
                subject=f"{self.subject} (node {local[0]} is this host)",
                fix="stop what holds it (an EdgeX kept on podman: 'podman pod rm -f <its name>'), "
                "or give this run other --gateway-ports",
            )

    # -- the pod ----------------------------------------------------------------------------------------

    def reap(self) -> list[str]:
        """Delete the namespaces of dead earlier runs of this host (by label) and wait until they are gone."""
        return self.kube.reap(self.settings.run_id, timeout_s=DELETE_TIMEOUT_S, progress=self.settings.progress)

    def deploy(self, objects: Sequence[KubeObject]) -> Deployment:
        """Create the run's namespace and server-side apply `objects` into it.

        Any failure or interrupt (``BaseException``, so SIGTERM too) after the
        namespace check deletes the namespace again, unless the run keeps what it made.
        """
        namespace = _kube.namespace_for(self.settings.run_id)
        pod = _pod_object(objects, self.subject)
        self.kube.require_namespace_free(namespace, self.settings.run_id)
        owned = run_labels.ownership_labels(self.settings.run_id, keep=self.settings.keep)
        try:
            self.kube.create_namespace(namespace, owned, self.settings.progress)
            self.kube.apply(objects, namespace)
        except BaseException:
            if not self.settings.keep:
                self._remove_namespace(namespace)
            raise
        self._deployment = Deployment(
            pod=pod["metadata"]["name"],
            run_id=self.settings.run_id,
            created=True,
            namespace=namespace,
            objects=tuple(objects),
        )
        return self._deployment

    def _remove_namespace(self, namespace: str) -> None:
        """Delete `namespace` after a failed deploy without hiding the failure."""
        try:
            self.kube.delete_namespace(namespace, DELETE_TIMEOUT_S, self.settings.progress)
        except SmokeError as err:
            log.warning("%s: could not remove namespace %s after a failed deploy: %s", self.subject, namespace, err)

    def _running_edgex(self) -> list[_reuse.RunningEdgeX]:
        """Every running pod in a namespace with the run labels; `where` is the namespace."""
        found = []
        for ns in self.kube.namespaces(run_labels.SELECTOR):
            name = ns["metadata"]["name"]
            labels = ns["metadata"].get("labels") or {}
            for pod in self.kube.pods(name):
                if (pod.get("status") or {}).get("phase") == "Running":
                    ports = run_labels.gateway_ports_of(pod["metadata"].get("labels") or {})
                    found.append(_reuse.RunningEdgeX(pod["metadata"]["name"], labels, where=name, gateway_ports=ports))
        return found

    def find_deployment(self) -> Deployment:
        """Attach to the running EdgeX pod that an ended run kept (``--name`` chooses among several)."""
        edgex = _reuse.choose(
            self._running_edgex(), wanted=self.settings.reuse_name, subject=self.subject, distro=self.subject
        )
        self._deployment = Deployment(
            pod=edgex.name,
            run_id=edgex.run_id,
            created=False,
            namespace=edgex.where,
            gateway_ports=edgex.gateway_ports,
        )
        return self._deployment

    def wait_deployed(self, deployment: Deployment, *, timeout_s: float) -> None:
        """Watch the pod until every container is ready; stop early with the reason when it cannot."""
        self.kube.wait_pod_ready(self.namespace_of(deployment), deployment.pod, timeout_s, self.settings.progress)

    def containers(self, deployment: Deployment) -> list[ContainerState]:
        """State of every container of the pod."""
        return self.kube.container_states(self.namespace_of(deployment), deployment.pod)

    def endpoints(self, deployment: Deployment) -> Endpoints:
        """The gateway's hostPorts on the IP of the pod's node; port-forwards if that IP is not routable.

        The node address counts as routable once the gateway accepts a connection
        there (`accepts`). A port-forward stays open until `undeploy` or `close`.
        """
        key = f"{deployment.namespace}/{deployment.pod}"
        if key in self._endpoints:
            return self._endpoints[key]
        namespace = self.namespace_of(deployment)
        pod = self.kube.pod(namespace, deployment.pod)
        if pod is None:
            raise InfraError(f"{self.subject}: pod {key} does not exist; was it deleted?")
        ports = _kube.host_port_map(pod)
        status = pod.get("status") or {}
        spec = pod.get("spec") or {}
        node_name = spec.get("nodeName")
        node_ip = status.get("hostIP")
        if not node_ip and node_name:
            node = self.kube.node(node_name)
            node_ip = _kube.node_address(node) if node else None
        if not node_ip:
            raise InfraError(
                f"{self.subject}: pod {key} has no node address yet (node {node_name or '?'}); is it scheduled?"
            )
        host_network = bool(spec.get("hostNetwork"))
        http_port, mqtt_port = deployment.gateway_ports or (
            self.settings.gateway_http_port,
            self.settings.gateway_mqtt_port,
        )
        probe_port = http_port if http_port in ports else next(iter(ports), http_port)
        if _host.accepts(node_ip, probe_port):
            # Under hostNetwork the pod's IP is the node's: no separate pod address to probe.
            pod_ip = None if host_network else status.get("podIP")
            found = Endpoints(
                gateway_url=f"http://{node_ip}:{http_port}",
                gateway_port=http_port,
                mqtt_host=node_ip,
                mqtt_port=mqtt_port,
                published_ports=tuple(sorted(ports)),
                pod_ip=pod_ip,
                client_addresses=_client_addresses(node_ip, pod_ip, http_port, host_network=host_network),
            )
        else:
            self.settings.progress(f"node address {node_ip} is not routable from here; port-forwarding instead")
            local = {
                host_port: self._forwards.enter_context(self.kube.port_forward(namespace, deployment.pod, cport))
                for host_port, cport in ports.items()
            }
            found = Endpoints(
                gateway_url=f"http://127.0.0.1:{local.get(http_port, http_port)}",
                gateway_port=local.get(http_port, http_port),
                mqtt_host="127.0.0.1",
                mqtt_port=local.get(mqtt_port, mqtt_port),
                published_ports=tuple(sorted(local.values())),
                pod_ip=None,  # the pod network is not routable from here either
                client_addresses=(ClientAddress("forwarded loopback", "127.0.0.1", local.get(http_port, http_port)),),
            )
        self._endpoints[key] = found
        return found

    def logs(self, deployment: Deployment, container: str, *, tail_lines: int) -> str:
        """The container's last lines: of its previous run if it restarted (that run's end says why); never raises."""
        namespace = self.namespace_of(deployment)
        try:
            states = {s.name: s for s in self.kube.container_states(namespace, deployment.pod)}
            state = states.get(container)
            previous = state is not None and state.restarts > 0 and not state.ready
            return self.kube.container_log(
                namespace, deployment.pod, container, previous=previous, tail_lines=tail_lines, timestamps=False
            )
        except SmokeError as err:
            return f"(no logs: {err})"

    def container_host(self, deployment: Deployment, container: str) -> Any:
        """A testinfra host running commands in one container through the API server's exec."""
        return self.kube.container_host(self.namespace_of(deployment), deployment.pod, container)

    def image_digests(self, images: Sequence[str]) -> dict[str, str | None]:
        """Map each image reference of the last deployment to the digest its container runs."""
        digests: dict[str, str | None] = dict.fromkeys(images)
        deployment = self._deployment
        if deployment is None or deployment.namespace is None:
            return digests
        pod = self.kube.pod(deployment.namespace, deployment.pod)
        if pod is None:
            return digests
        by_name = {s.name: s for s in _kube.container_states_of(pod)}
        for container in (pod.get("spec") or {}).get("containers") or []:
            state = by_name.get(container["name"])
            if state is not None and container["image"] in digests:
                digests[container["image"]] = state.image_digest
        return digests

    def pod_uid(self, deployment: Deployment) -> str | None:
        """The pod's UID (names its log directory on the node), or None; never raises."""
        try:
            pod = self.kube.pod(self.namespace_of(deployment), deployment.pod)
        except SmokeError:
            return None
        return str(((pod or {}).get("metadata") or {}).get("uid") or "") or None

    def collect_diagnostics(self, deployment: Deployment | None, dest: Path) -> list[Path]:
        """Namespace events, the described pod, every container's (and previous) logs, nodes; never raises."""
        saved: list[Path] = []
        try:
            if deployment is not None and deployment.namespace is not None:
                saved += self.kube.collect_diagnostics(deployment.namespace, deployment.pod, dest)
            saved += self.kube.collect_cluster_diagnostics(dest / "cluster")
        except Exception as err:  # best effort by contract: a broken cluster must not hide the real failure
            log.warning("%s: diagnostics incomplete: %s", self.subject, err)
        return saved

    def undeploy(self, deployment: Deployment, *, force_pods: bool = False) -> None:
        """Delete the run's namespace and wait until it is gone (only if this run created it).

        `force_pods` deletes its pods at once, for a node that cannot confirm their end (see `KubeClient`).
        """
        self._endpoints.pop(f"{deployment.namespace}/{deployment.pod}", None)
        self._forwards.close()
        if not deployment.created:
            return
        self.kube.delete_namespace(
            self.namespace_of(deployment), DELETE_TIMEOUT_S, self.settings.progress, force_pods=force_pods
        )
        if self._deployment == deployment:
            self._deployment = None


class ClusterDistro:
    """The `Distro` contract for one EdgeX pod on a Kubernetes cluster; drivers supply what differs.

    A driver overrides `_connection` (always), `_node_runtime` (when this host runs the node),
    and the phases it does differently: `preflight` and `up` always, `fingerprint`,
    `collect_diagnostics` and `down` to add its own facts, logs and teardown (calling
    ``super()`` for the shared part).
    """

    name: ClassVar[str]

    def __init__(self, settings: DistroSettings) -> None:
        self.settings = settings
        self._work: Workload | None = None

    # -- what a driver supplies ---------------------------------------------------------------------------

    def _connection(self) -> tuple[Path, str | None]:
        """The kubeconfig and context that reach the cluster."""
        raise NotImplementedError

    def _node_runtime(self) -> _sideload.NodeRuntime | None:
        """The node's containerd when this host runs the node, for side-loading; None otherwise."""
        return None

    def _provision_fact(self) -> str:
        """How the cluster was had, for the report's ``provision`` fact (e.g. ``attach``, ``install``)."""
        return "attach"

    # -- shared helpers -----------------------------------------------------------------------------------

    def _workload(self) -> Workload:
        if self._work is None:
            kubeconfig, context = self._connection()
            connect = functools.partial(_kube.KubeClient.from_kubeconfig, kubeconfig, context, subject=self.name)
            self._work = Workload(connect, self.settings, subject=self.name)
        return self._work

    def _disconnect(self) -> None:
        """Stop port-forwards and close the client, so the next call connects afresh."""
        if self._work is not None:
            self._work.close()
            self._work = None

    def _check_cluster(self) -> None:
        """The API answers, and (unless ``--reuse``) nothing else holds the gateway's host ports."""
        workload = self._workload()
        workload.kube.check_reachable()
        if not self.settings.reuse:
            workload.check_gateway_ports()

    def _check_host_ports(self, fix: str) -> None:
        """Before this run starts a cluster here: the gateway's ports are free on this host."""
        if not self.settings.reuse:
            _hostcheck.require_free_ports(
                (self.settings.gateway_http_port, self.settings.gateway_mqtt_port), subject=self.name, fix=fix
            )

    def _target(self, *, attached: bool, created: bool = False) -> Target:
        """The target once the API answers: named by its context when attached, by this host otherwise."""
        kube = self._workload().kube
        kube.check_reachable()
        if attached:
            return Target(distro=self.name, name=kube.context or kube.server, mode="attached", created=False)
        return Target(distro=self.name, name=platform.node(), mode="provisioned", created=created)

    # -- the contract -------------------------------------------------------------------------------------

    def wait_ready(self, target: Target, *, timeout_s: float) -> None:
        """Wait (watch) until ``/readyz`` is ok and a node is Ready and schedulable."""
        self._workload().kube.wait_nodes_ready(timeout_s, self.settings.progress)

    def fingerprint(self, target: Target) -> Fingerprint:
        """Server version, nodes and roles, runtime, kubelet, OS, kernel, CNI, StorageClass, kube-proxy."""
        facts: dict[str, Any] = dict(self._workload().kube.fingerprint())
        facts["provision"] = self._provision_fact()
        facts["distro_build"] = facts.get("kubernetes_version", "unknown")
        return Fingerprint(facts=facts)

    def can_pull(self, image: str) -> bool:
        """This host's node: podman's probe from this host. Nodes elsewhere: assumed, their kubelet will say."""
        if self._node_runtime() is None:
            return not image.startswith("localhost/")
        return _sideload.podman_can_pull(image)

    def load_images(self, target: Target, images: Sequence[str]) -> None:
        """This host's node: side-load from podman storage (or pull). Elsewhere: check the nodes' images."""
        runtime = self._node_runtime()
        if runtime is None:
            _sideload.check_images_on_nodes(self._workload().kube, images, subject=self.name)
            return
        _sideload.side_load(
            images, runtime, subject=self.name, work_dir=self.settings.work_dir, progress=self.settings.progress
        )

    def reap(self, target: Target) -> list[str]:
        """Delete the namespaces of dead earlier runs of this host (by label) and wait until they are gone."""
        return self._workload().reap()

    def deploy(self, target: Target, objects: Sequence[KubeObject]) -> Deployment:
        """Create the run's own namespace and server-side apply the objects into it."""
        return self._workload().deploy(objects)

    def find_deployment(self, target: Target) -> Deployment:
        """Attach to a running EdgeX pod an earlier (kept) run made."""
        return self._workload().find_deployment()

    def wait_deployed(self, target: Target, deployment: Deployment, *, timeout_s: float) -> None:
        """Watch the pod until every container is ready; stop early with the reason when it cannot."""
        self._workload().wait_deployed(deployment, timeout_s=timeout_s)

    def containers(self, target: Target, deployment: Deployment) -> list[ContainerState]:
        """State of every container of the pod."""
        return self._workload().containers(deployment)

    def endpoints(self, target: Target, deployment: Deployment) -> Endpoints:
        """The gateway's hostPorts on the node's address; port-forwards if that is not routable."""
        return self._workload().endpoints(deployment)

    def container_host(self, target: Target, deployment: Deployment, container: str) -> Any:
        """A testinfra host for one container, through the API server's exec."""
        return self._workload().container_host(deployment, container)

    def logs(self, target: Target, deployment: Deployment, container: str, *, tail_lines: int) -> str:
        """The container's last lines (its previous run's if it restarted and is not ready); never raises."""
        return self._workload().logs(deployment, container, tail_lines=tail_lines)

    def image_digests(self, images: Sequence[str]) -> dict[str, str | None]:
        """Map each image reference of the last deployment to the digest its container runs."""
        return self._workload().image_digests(images)

    def collect_diagnostics(self, target: Target, deployment: Deployment | None, dest: Path) -> list[Path]:
        """Namespace events, the described pod, every container's (and previous) logs, nodes; never raises."""
        try:
            workload = self._workload()
        except Exception as err:  # best effort by contract: a broken kubeconfig must not hide the real failure
            log.warning("%s: no API diagnostics: %s", self.name, err)
            return []
        return workload.collect_diagnostics(deployment, dest)

    def undeploy(self, target: Target, deployment: Deployment) -> None:
        """Delete the run's namespace and wait until it is gone (only if this run created it)."""
        self._workload().undeploy(deployment)

    def down(self, target: Target) -> None:
        """Close the connection; a driver that made the cluster removes it after calling this."""
        self._disconnect()


def _client_addresses(
    node_ip: str, pod_ip: str | None, http_port: int, *, host_network: bool
) -> tuple[ClientAddress, ...]:
    """Where check c probes: the node, the pod, and this host's own addresses when the node is this host.

    A remote pod network may not be routable from here, so only a local node vouches for its pod IP.
    Under hostNetwork the pod's loopback is the node's: services that listen on loopback only are
    private to the node by design, so a local node's loopback is not a client address.
    """
    local = reach.local_addresses()
    found = [ClientAddress("node IP", node_ip, http_port)]
    if pod_ip:
        found.append(ClientAddress("pod IP", pod_ip, http_port, vouched=node_ip in local))
    if node_ip in local:
        found += [
            ClientAddress("host", address, http_port, vouched=False)
            for address in local
            if address != node_ip and not (host_network and address == "127.0.0.1")
        ]
    return tuple(found)
