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
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from distros import _cluster, _kube
from distros._protocol import DistroSettings, Fingerprint, Target
from harness import proc
from harness.errors import PreflightError, SmokeError

log = logging.getLogger(__name__)


class K8sDistro(_cluster.WorkloadVerbs):
    """Upstream Kubernetes: one EdgeX pod in a run-owned namespace (the pod verbs: `_cluster.WorkloadVerbs`)."""

    name: ClassVar[str] = "k8s"

    def __init__(self, settings: DistroSettings) -> None:
        self.settings = settings
        self._kube: _kube.KubeClient | None = None
        self._kubeconfig: str | None = None
        self._work: _cluster.Workload | None = None

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

    def _workload(self) -> _cluster.Workload:
        if self._work is None:
            self._work = _cluster.Workload(self._client, self.settings, subject=self.name)
        return self._work

    def _disconnect(self) -> None:
        """Stop port-forwards and close the client, so the next call connects afresh."""
        if self._work is not None:
            self._work.close()
            self._work = None
        if self._kube is not None:
            self._kube.close()
            self._kube = None

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
        self._client().check_reachable()
        if not self.settings.reuse:
            self._workload().check_gateway_ports()

    def up(self) -> Target:
        """Attach to the kubeconfig's cluster, or start (or find) the lab cluster."""
        if self.settings.provision == "local":
            cluster = self._lab().up(progress=self.settings.progress)
            if self._kubeconfig != str(cluster.kubeconfig):
                self._disconnect()
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
        if self.settings.provision == "local":
            cluster = self._lab().status()
            if cluster is not None:
                facts.update(cluster.network_facts())
        return Fingerprint(facts=facts)

    def load_images(self, target: Target, images: Sequence[str]) -> None:
        """Local: side-load from podman storage. Attached: check that unpullable images are on a node."""
        refs = list(dict.fromkeys(images))
        if self.settings.provision == "local":
            self._side_load(refs)
            return
        _cluster.check_images_on_nodes(self._client(), refs, subject="k8s")

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

    def down(self, target: Target) -> None:
        """Attached: nothing of the cluster is touched. Local: stop the lab cluster if this run started it."""
        self._disconnect()
        if target.mode == "provisioned" and target.created:
            self._lab().down(progress=self.settings.progress)
