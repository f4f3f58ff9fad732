"""k8s: upstream Kubernetes, attached through a kubeconfig, or the single-node cluster running on this host.

Two ways to get a cluster (``DistroSettings.provision``):
- ``attach``: the kubeconfig of ``--kubeconfig``, else ``$KUBECONFIG``, else
  ``~/.kube/config``, with ``--context`` or its current context. Nothing of the
  cluster is ever deleted; only the run's own namespace is.
- ``local``: the cluster that runs on this host and describes itself in
  ``distros.local_cluster``'s descriptor file (in this repository, the lab cluster:
  ``python -m lab.cluster up``). The run side-loads images into its containerd and
  never starts or stops it.

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

import os
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from distros import _cluster, _sideload, local_cluster
from distros._protocol import DistroSettings, Fingerprint, Target
from harness.errors import PreflightError


class K8sDistro(_cluster.ClusterDistro):
    """Upstream Kubernetes: one EdgeX pod in a run-owned namespace (the shared verbs: `_cluster.ClusterDistro`)."""

    name: ClassVar[str] = "k8s"

    def __init__(self, settings: DistroSettings) -> None:
        super().__init__(settings)
        self._local: local_cluster.LocalCluster | None = None

    def _local_cluster(self) -> local_cluster.LocalCluster:
        if self._local is None:
            self._local = local_cluster.read()
        return self._local

    def _attach_kubeconfig(self) -> Path:
        if self.settings.kubeconfig is not None:
            return self.settings.kubeconfig
        from_env = os.environ.get("KUBECONFIG")
        if from_env:
            return Path(from_env)
        default = Path.home() / ".kube" / "config"
        if default.is_file():
            return default
        raise PreflightError(
            "k8s: no kubeconfig to attach with; give --kubeconfig FILE, set $KUBECONFIG, create ~/.kube/config, "
            "or use the cluster running on this host with --provision local"
        )

    def _connection(self) -> tuple[Path, str | None]:
        if self.settings.provision == "local":
            return self._local_cluster().kubeconfig, None
        return self._attach_kubeconfig(), self.settings.context

    def _node_runtime(self) -> _sideload.NodeRuntime | None:
        if self.settings.provision != "local":
            return None
        cluster = self._local_cluster()
        return _sideload.NodeRuntime(
            ctr=("ctr", "--address", str(cluster.containerd_address)), namespace=cluster.containerd_namespace
        )

    def _provision_fact(self) -> str:
        return self.settings.provision

    def preflight(self, images: Sequence[str]) -> None:
        """The kubeconfig (or the local cluster's descriptor) is readable, the API answers, the ports are free."""
        self._check_cluster()

    def up(self) -> Target:
        """Attach to the kubeconfig's cluster, or to the cluster running on this host."""
        if self.settings.provision == "local":
            target = self._target(attached=False)
            return Target(distro=self.name, name=self._local_cluster().node_name, mode=target.mode, created=False)
        return self._target(attached=True)

    def fingerprint(self, target: Target) -> Fingerprint:
        """`_cluster`'s facts, plus what the local cluster's descriptor tells (its CNI, no kube-proxy)."""
        facts = dict(super().fingerprint(target).facts)
        if self.settings.provision == "local":
            facts.update(self._local_cluster().facts)
        return Fingerprint(facts=facts)
