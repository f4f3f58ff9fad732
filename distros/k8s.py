"""k8s: upstream Kubernetes, attached through a kubeconfig or started locally as the lab cluster.

Two ways to get a cluster (``DistroSettings.provision``):
- ``attach``: the kubeconfig of ``--kubeconfig``, else ``$KUBECONFIG``, else
  ``~/.kube/config``, with ``--context`` or its current context. Nothing of the
  cluster is ever deleted; only the run's own namespace is.
- ``local``: the single-node lab cluster built on this host (``lab.cluster.api``);
  ``down`` stops it only if this run started it.

Quirks this driver handles:
- The lab cluster has no CoreDNS and maybe no kube-proxy, so nothing here uses
  Services or DNS: EdgeX talks over the pod's localhost, and the host reaches the
  gateway through its hostPorts on the node's InternalIP (the CNI ``portmap``
  plugin). If the gateway does not accept a connection there within 10 s (a node
  address not routable from the test host), the driver port-forwards through the
  API server instead, for as long as the deployment lives.
- A pod is refused until the namespace's ``default`` ServiceAccount exists (the
  ServiceAccount admission plugin), which kube-controller-manager creates a moment
  after the namespace: the driver waits for it (watch) before applying.
- Namespace deletion is asynchronous (kube-controller-manager's namespace
  controller, then the pods' grace period): `undeploy` watches until it is gone.
- Side-loaded images (``imagePullPolicy: Never``) must already be in the node's
  runtime. On an attached cluster the driver can only check the images the kubelet
  reports (``status.images`` holds at most 50 per node by default), so a missing
  ``localhost/`` image fails preflight only when the node's list is complete.
- testinfra reaches containers through the API server's exec (``_kube.ExecBackend``),
  not its kubectl backend: no kubectl binary, whatever its version, is involved.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, ClassVar

from distros import _hostcheck, _kube, _ownership
from distros._protocol import (
    ContainerState,
    Deployment,
    DistroSettings,
    Endpoints,
    Fingerprint,
    KubeObject,
    Target,
)
from harness import proc
from harness.errors import InfraError, PreflightError, SmokeError

log = logging.getLogger(__name__)

DELETE_TIMEOUT_S = 180.0
REACH_TIMEOUT_S = 10.0
IMAGE_REPORT_TIMEOUT_S = 30.0
"""How long to wait for kubelets to report a side-loaded image (they update node status every 10 s)."""


def _pod_object(objects: Sequence[KubeObject]) -> KubeObject:
    pods = [o for o in objects if o.get("kind") == "Pod"]
    if len(pods) != 1:
        raise InfraError(f"k8s: the manifest must hold exactly one Pod, found {len(pods)}; check the renderer")
    return pods[0]


def _reachable(host: str, port: int, timeout_s: float = REACH_TIMEOUT_S) -> bool:
    """True once `host` accepts a connection on `port` within `timeout_s`.

    A refusal is not taken as proof of a route: firewalls refuse too. The gateway may
    still be starting when its container already runs, so refusals are retried.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        try:
            with socket.create_connection((host, port), timeout=max(min(left, 3.0), 0.1)):
                return True
        except OSError:
            if time.monotonic() + 0.5 >= deadline:
                return False
            # No API tells when a process starts listening: retry the connect on a short interval.
            time.sleep(0.5)


class K8sDistro:
    """Upstream Kubernetes: one EdgeX pod in a run-owned namespace."""

    name: ClassVar[str] = "k8s"

    def __init__(self, settings: DistroSettings) -> None:
        self.settings = settings
        self._kube: _kube.KubeClient | None = None
        self._kubeconfig: str | None = None
        self._forwards = ExitStack()
        self._endpoints: dict[str, Endpoints] = {}
        self._deployment: Deployment | None = None

    # -- helpers -----------------------------------------------------------------

    @staticmethod
    def _lab() -> Any:
        """`lab.cluster.api`, imported only when ``provision=local`` needs it."""
        try:  # lazy: the driver must import without the lab cluster
            api = importlib.import_module("lab.cluster.api")
        except ImportError as err:
            raise PreflightError(
                f"k8s: --provision local needs lab.cluster.api, which cannot be imported ({err}); "
                "use --provision attach with --kubeconfig"
            ) from err
        return api

    def _attach_kubeconfig(self) -> str:
        if self.settings.kubeconfig is not None:
            return str(self.settings.kubeconfig)
        from_env = os.environ.get("KUBECONFIG")
        if from_env:
            return from_env
        default = Path.home() / ".kube" / "config"
        if default.is_file():
            return str(default)
        raise PreflightError(
            "k8s: no kubeconfig to attach with; give --kubeconfig FILE, set $KUBECONFIG, create ~/.kube/config, "
            "or start the lab cluster with --provision local"
        )

    def _client(self) -> _kube.KubeClient:
        if self._kube is None:
            if self._kubeconfig is None:
                if self.settings.provision == "local":
                    cluster = self._lab().status()
                    if cluster is None:
                        raise PreflightError("k8s: the lab cluster is not running; call up() first")
                    self._kubeconfig = str(cluster.kubeconfig)
                else:
                    self._kubeconfig = self._attach_kubeconfig()
            context = self.settings.context if self.settings.provision == "attach" else None
            self._kube = _kube.KubeClient.from_kubeconfig(self._kubeconfig, context, subject=self.name)
        return self._kube

    def _namespace(self, deployment: Deployment) -> str:
        if deployment.namespace is None:
            raise InfraError(f"k8s: deployment of pod {deployment.pod} has no namespace; it was not made by k8s")
        return deployment.namespace

    def _check_gateway_ports(self, kube: _kube.KubeClient) -> None:
        ports = (self.settings.gateway_http_port, self.settings.gateway_mqtt_port)
        try:
            taken = kube.pods_with_host_ports(ports)
        except InfraError as err:
            log.info("k8s: cannot list pods to check host ports (%s); skipping that check", err)
            return
        if taken:
            pod, port, node = taken[0]
            raise PreflightError(
                f"k8s: host port {port} is taken by pod {pod} on node {node or '?'}; delete that pod "
                "(a kept EdgeX run: delete its edgex-smoke-* namespace), use --gateway-ports, or use --reuse"
            )
        try:
            local = [ip for node in kube.nodes() if (ip := _kube.node_address(node)) and _kube.local_address(ip)]
        except InfraError:
            return
        if local:
            _hostcheck.require_free_ports(
                ports,
                subject=f"k8s (node {local[0]} is this host)",
                fix="stop what holds it (a kept podman EdgeX pod: 'podman pod rm -f edgex'), or use --gateway-ports",
            )

    def _check_local_prerequisites(self, api: Any) -> None:
        """Root, tools, CNI plugins and free ports (``lab.cluster.host.check``), and binaries or a Go to build them."""
        from lab.cluster import host, layout  # noqa: PLC0415  # lazy, like lab.cluster.api

        try:
            host.check()
            layout.Layout.default().check()
            bindir = Path(api.binaries_dir())
            if not all((bindir / name).is_file() for name in api.BINARIES):
                proc.which("go", package="golang-go")
        except PreflightError:
            raise
        except SmokeError as err:
            raise PreflightError(f"k8s: --provision local cannot start the lab cluster: {err}") from err

    # -- contract ----------------------------------------------------------------

    def preflight(self, images: Sequence[str]) -> None:
        """Attach: kubeconfig readable, API reachable, gateway hostPorts free. Local: the lab's prerequisites."""
        if self.settings.provision == "local":
            api = self._lab()
            if api.status() is None:
                self._check_local_prerequisites(api)
                return
        kube = self._client()
        kube.check_reachable()
        if not self.settings.reuse:
            self._check_gateway_ports(kube)

    def up(self) -> Target:
        """Attach to the kubeconfig's cluster, or start (or find) the lab cluster."""
        if self.settings.provision == "local":
            cluster = self._lab().up(progress=self.settings.progress)
            if self._kubeconfig != str(cluster.kubeconfig) and self._kube is not None:
                self._kube.close()
                self._kube = None
            self._kubeconfig = str(cluster.kubeconfig)
            return Target(distro=self.name, name=cluster.node_name, mode="provisioned", created=bool(cluster.created))
        kube = self._client()
        kube.check_reachable()
        return Target(distro=self.name, name=kube.context or kube.server, mode="attached", created=False)

    def wait_ready(self, target: Target, *, timeout_s: float) -> None:
        """Wait (watch) until ``/readyz`` is ok and a node is Ready and schedulable."""
        self._client().wait_nodes_ready(timeout_s, self.settings.progress)

    def fingerprint(self, target: Target) -> Fingerprint:
        """Server version, nodes and roles, runtime, kubelet, OS, kernel, CNI, StorageClass, kube-proxy."""
        facts: dict[str, Any] = {"provision": self.settings.provision, **self._client().fingerprint()}
        return Fingerprint(facts=facts)

    def reap(self, target: Target) -> list[str]:
        """Delete the namespaces of dead earlier runs of this host (by label) and wait until they are gone."""
        return self._client().reap(self.settings.run_id, timeout_s=DELETE_TIMEOUT_S, progress=self.settings.progress)

    def load_images(self, target: Target, images: Sequence[str]) -> None:
        """Local: side-load from podman storage. Attached: check that unpullable images are on a node."""
        refs = list(dict.fromkeys(images))
        if self.settings.provision == "local":
            self._side_load(refs)
            return
        local_refs = [ref for ref in refs if ref.startswith("localhost/")]
        if not local_refs:
            return  # pullable references: the kubelet pulls them, and a failure names the image
        missing = self._client().missing_node_images(local_refs, timeout_s=IMAGE_REPORT_TIMEOUT_S)
        if missing:
            raise PreflightError(
                f"k8s: {len(missing)} image(s) not on any node and not pullable: {', '.join(missing)}; "
                "import them into the nodes' runtime (e.g. 'ctr -n k8s.io images import'), "
                "or choose --images <registry/prefix>"
            )

    def _side_load(self, refs: list[str]) -> None:
        from lab import podman as lab_podman  # noqa: PLC0415  # lazy, like lab.cluster.api

        missing = [ref for ref in refs if not lab_podman.image_exists(ref)]
        if missing:
            raise PreflightError(
                f"k8s: {len(missing)} image(s) not in podman storage, so they cannot be side-loaded into the lab "
                f"cluster: {', '.join(missing)}; build the lab images ('make lab-images') or pull them with podman "
                "first, or attach to a cluster that can pull them (--provision attach --kubeconfig FILE)"
            )
        self.settings.progress(f"side-loading {len(refs)} image(s) into the lab cluster")
        self._lab().load_images(refs)

    def image_digests(self, images: Sequence[str]) -> dict[str, str | None]:
        """Map each image reference of the last deployment to the digest its container runs."""
        digests: dict[str, str | None] = dict.fromkeys(images)
        deployment = self._deployment
        if deployment is None or deployment.namespace is None:
            return digests
        pod = self._client().pod(deployment.namespace, deployment.pod)
        if pod is None:
            return digests
        by_name = {s.name: s for s in _kube.container_states_of(pod)}
        for container in (pod.get("spec") or {}).get("containers") or []:
            state = by_name.get(container["name"])
            if state is not None and container["image"] in digests:
                digests[container["image"]] = state.image_digest
        return digests

    def deploy(self, target: Target, objects: Sequence[KubeObject]) -> Deployment:
        """Create the run's namespace and server-side apply the objects into it.

        Any failure or interrupt (``BaseException``) after the namespace check deletes
        the namespace again, unless the run keeps what it made.
        """
        kube = self._client()
        namespace = _kube.namespace_for(self.settings.run_id)
        pod = _pod_object(objects)
        kube.require_namespace_free(namespace, self.settings.run_id)
        labels = _ownership.ownership_labels(self.settings.run_id, keep=self.settings.keep)
        try:
            kube.create_namespace(namespace, labels, self.settings.progress)
            kube.apply(objects, namespace)
        except BaseException:
            if not self.settings.keep:
                self._remove_namespace(kube, namespace)
            raise
        self._deployment = Deployment(
            pod=pod["metadata"]["name"],
            run_id=self.settings.run_id,
            created=True,
            namespace=namespace,
            objects=tuple(objects),
        )
        return self._deployment

    def _remove_namespace(self, kube: _kube.KubeClient, namespace: str) -> None:
        """Delete `namespace` after a failed deploy without hiding the failure."""
        try:
            kube.delete_namespace(namespace, DELETE_TIMEOUT_S, self.settings.progress)
        except SmokeError as err:
            log.warning("k8s: could not remove namespace %s after a failed deploy: %s", namespace, err)

    def find_deployment(self, target: Target) -> Deployment:
        """Attach to a running EdgeX pod in a namespace an earlier (kept) run made."""
        kube = self._client()
        for ns in kube.namespaces(_ownership.SELECTOR):
            name = ns["metadata"]["name"]
            for pod in kube.pods(name):
                if (pod.get("status") or {}).get("phase") == "Running":
                    run_id = ((ns["metadata"].get("labels") or {}).get(_ownership.RUN_ID)) or "unknown"
                    self._deployment = Deployment(
                        pod=pod["metadata"]["name"], run_id=run_id, created=False, namespace=name
                    )
                    return self._deployment
        raise PreflightError(
            f"k8s: --reuse found no running pod in a namespace labelled {_ownership.SELECTOR}; "
            "deploy one first with 'pytest --distro=k8s --keep', or drop --reuse"
        )

    def wait_deployed(self, target: Target, deployment: Deployment, *, timeout_s: float) -> None:
        """Watch the pod until every container is ready; stop early with the reason when it cannot."""
        self._client().wait_pod_ready(self._namespace(deployment), deployment.pod, timeout_s, self.settings.progress)

    def containers(self, target: Target, deployment: Deployment) -> list[ContainerState]:
        """State of every container of the pod."""
        return self._client().container_states(self._namespace(deployment), deployment.pod)

    def endpoints(self, target: Target, deployment: Deployment) -> Endpoints:
        """The gateway's hostPorts on the node's InternalIP; port-forwards if that address is not routable."""
        key = f"{deployment.namespace}/{deployment.pod}"
        if key in self._endpoints:
            return self._endpoints[key]
        kube = self._client()
        namespace = self._namespace(deployment)
        pod = kube.pod(namespace, deployment.pod)
        if pod is None:
            raise InfraError(f"k8s: pod {key} does not exist; was it deleted?")
        ports = _kube.host_port_map(pod)
        node_name = (pod.get("spec") or {}).get("nodeName")
        node = kube.node(node_name) if node_name else None
        node_ip = _kube.node_address(node) if node else None
        if node_ip is None:
            raise InfraError(f"k8s: pod {key} is on node {node_name or '?'}, which has no InternalIP; is it scheduled?")
        http_port = self.settings.gateway_http_port
        mqtt_port = self.settings.gateway_mqtt_port
        pod_ip = (pod.get("status") or {}).get("podIP")
        probe_port = http_port if http_port in ports else next(iter(ports), http_port)
        if _reachable(node_ip, probe_port):
            found = Endpoints(
                gateway_url=f"http://{node_ip}:{http_port}",
                gateway_port=http_port,
                mqtt_host=node_ip,
                mqtt_port=mqtt_port,
                published_ports=tuple(sorted(ports)),
                pod_ip=pod_ip,
            )
        else:
            self.settings.progress(f"node address {node_ip} is not routable from here; port-forwarding instead")
            local = {
                host_port: self._forwards.enter_context(kube.port_forward(namespace, deployment.pod, container_port))
                for host_port, container_port in ports.items()
            }
            found = Endpoints(
                gateway_url=f"http://127.0.0.1:{local.get(http_port, http_port)}",
                gateway_port=local.get(http_port, http_port),
                mqtt_host="127.0.0.1",
                mqtt_port=local.get(mqtt_port, mqtt_port),
                published_ports=tuple(sorted(local.values())),
                pod_ip=None,  # the pod network is not routable from here either
            )
        self._endpoints[key] = found
        return found

    def container_host(self, target: Target, deployment: Deployment, container: str) -> Any:
        """A testinfra host running commands in one container through the API server's exec."""
        return self._client().container_host(self._namespace(deployment), deployment.pod, container)

    def collect_diagnostics(self, target: Target, deployment: Deployment | None, dest: Path) -> list[Path]:
        """Namespace events, the described pod, every container's (and previous) logs, nodes; never raises."""
        saved: list[Path] = []
        try:
            kube = self._client()
            if deployment is not None and deployment.namespace is not None:
                saved += kube.collect_diagnostics(deployment.namespace, deployment.pod, dest)
            saved += kube.collect_cluster_diagnostics(dest / "cluster")
        except Exception as err:  # best effort by contract: a broken kubeconfig must not hide the real failure
            log.warning("k8s: diagnostics incomplete: %s", err)
        return saved

    def undeploy(self, target: Target, deployment: Deployment) -> None:
        """Delete the run's namespace and wait until it is gone (only if this run created it)."""
        self._endpoints.pop(f"{deployment.namespace}/{deployment.pod}", None)
        self._forwards.close()
        if not deployment.created:
            return
        self._client().delete_namespace(self._namespace(deployment), DELETE_TIMEOUT_S, self.settings.progress)
        if self._deployment == deployment:
            self._deployment = None

    def down(self, target: Target) -> None:
        """Attached: nothing of the cluster is touched. Local: stop the lab cluster if this run started it."""
        self._forwards.close()
        self._endpoints.clear()
        if self._kube is not None:
            self._kube.close()
            self._kube = None
        if target.mode == "provisioned" and target.created:
            self._lab().down(progress=self.settings.progress)
