"""Where the lab KubeEdge keeps its state: a directory inside the lab cluster's, removed with it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lab.cluster.layout import Layout as ClusterLayout

VERSION = "v1.23.1"
"""The KubeEdge release the lab runs (cloudcore and edgecore from ``lab/cluster/build.py kubeedge``)."""

CLOUD_NAMESPACE = "kubeedge"
"""Where cloudcore keeps its CA, certificates and the join token (Secrets)."""
CLOUDHUB_PORT = 10000
CLOUDHUB_HTTPS_PORT = 10002
CLOUDCORE_MONITOR_PORT = 9091
CLOUDCORE_TUNNEL_PORT = 10350
EDGED_READONLY_PORT = 10351
"""edgecore's embedded kubelet serves its read-only API here, and edgecore takes no pod from the cloud until
``/healthz/syncloop`` answers on it: it cannot be off (0). Not 10255 (a kubelet's), not 10350 (cloudcore's)."""
EDGED_HEALTHZ_PORT = 10548
"""Not 10248, which the lab cluster's own kubelet holds on the same host."""
EDGE_CGROUP_ROOT = "/edgex-smoke-edge"
"""The cgroups of the pods of edgecore; not ``/kubepods``, which the lab cluster's kubelet owns on the same host."""


@dataclass(frozen=True)
class Layout:
    """The paths of the lab KubeEdge: cloudcore's and edgecore's configs, and the edge node's own containerd."""

    cluster: ClusterLayout

    @classmethod
    def default(cls) -> Layout:
        """The layout inside the default lab cluster state directory."""
        return cls(ClusterLayout.default())

    @property
    def root(self) -> Path:
        """Everything of the lab KubeEdge."""
        return self.cluster.root / "kubeedge"

    @property
    def reserved_ports_record(self) -> Path:
        """The ports `lab.kubeedge.host_ports.reserve` added to the host's reserved ports, to take back on down."""
        return self.root / "reserved-ports"

    @property
    def cloudcore_config(self) -> Path:
        """The configuration file of cloudcore."""
        return self.root / "cloudcore.yaml"

    @property
    def cloudcore_dir(self) -> Path:
        """The certificates and unix socket of cloudcore."""
        return self.root / "cloud"

    @property
    def edgecore_config(self) -> Path:
        """The configuration file of edgecore (it holds the join token: 0600)."""
        return self.root / "edgecore.yaml"

    @property
    def edgecore_dir(self) -> Path:
        """The certificates, database and pod root of edgecore."""
        return self.root / "edge"

    @property
    def edge_runtime(self) -> ClusterLayout:
        """The edge node's containerd, a second instance with its own root, state and socket."""
        return ClusterLayout(self.root / "runtime")

    @property
    def meta(self) -> Path:
        """JSON facts of the running lab KubeEdge (edge node name, versions), present while it runs."""
        return self.root / "kubeedge.json"
