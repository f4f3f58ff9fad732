"""Where the lab cluster keeps its state, and the fixed network plan it uses.

Everything the running cluster writes lives under one state directory (``~/.cache/edgex-smoke/cluster/state``, or
``$EDGEX_SMOKE_CLUSTER_STATE``), so that ``down`` can remove it in one go. Unix socket paths must stay under 108
bytes, which a deep ``$EDGEX_SMOKE_CLUSTER_STATE`` could exceed; `Layout.check` says so before anything starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from distros import local_cluster
from harness.errors import PreflightError

VERSION = "v1.34.4"
"""The Kubernetes version the lab cluster runs (the binaries of ``lab/cluster/build.py``)."""

CLUSTER_CIDR = "10.244.0.0/16"
"""Pod addresses; podman uses 10.88.0.0/16 and netavark 10.89.x on the same hosts."""

NODE_CIDR_MASK = 24
SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"
"""The first address of `SERVICE_CIDR`: the ``kubernetes`` Service, a SAN of the apiserver's certificate."""

BRIDGE = "edgexlab0"
"""The CNI bridge; not ``cni0``, which other CNI users on the host may own."""

CNI_NETWORK = "edgex-smoke-lab"
CNI_BIN_DIR = Path("/usr/lib/cni")
"""Debian ``containernetworking-plugins`` installs the plugins here, not in ``/opt/cni/bin``."""

APISERVER_PORT = 6443
ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380
KUBELET_PORT = 10250
KUBELET_HEALTHZ_PORT = 10248
CONTROLLER_MANAGER_PORT = 10257
SCHEDULER_PORT = 10259

PAUSE_IMAGE = "localhost/edgex-smoke-lab/pause:1"
"""The sandbox image, built from ``pause.c`` and imported into containerd (there is no registry)."""

CONTAINERD_NAMESPACE = "k8s.io"
SOCKET_PATH_MAX = 107


def default_state_dir() -> Path:
    """Return ``$EDGEX_SMOKE_CLUSTER_STATE``, else ``${XDG_CACHE_HOME:-~/.cache}/edgex-smoke/cluster/state``."""
    return local_cluster.state_dir()


@dataclass(frozen=True)
class Layout:
    """The paths of one lab cluster's state directory."""

    root: Path

    @classmethod
    def default(cls) -> Layout:
        """Return the layout of the default state directory."""
        return cls(default_state_dir())

    @property
    def meta(self) -> Path:
        """JSON facts of the running cluster (node name, node IP, version)."""
        return self.root / "cluster.json"

    @property
    def descriptor(self) -> Path:
        """The seam to smoke runs (`distros.local_cluster`): present while the cluster runs."""
        return self.root / local_cluster.FILE_NAME

    @property
    def logs(self) -> Path:
        """One ``<component>.log`` per process."""
        return self.root / "logs"

    @property
    def pids(self) -> Path:
        """One ``<component>.pid`` per process."""
        return self.root / "pids"

    @property
    def pki(self) -> Path:
        """Certificates and keys (keys 0600)."""
        return self.root / "pki"

    @property
    def kubeconfigs(self) -> Path:
        """One kubeconfig per client identity."""
        return self.root / "kubeconfigs"

    @property
    def admin_kubeconfig(self) -> Path:
        """The cluster-admin kubeconfig handed to callers."""
        return self.kubeconfigs / "admin.kubeconfig"

    @property
    def etcd_data(self) -> Path:
        """The data directory of etcd."""
        return self.root / "etcd"

    @property
    def containerd(self) -> Path:
        """The config, root, state and socket of containerd."""
        return self.root / "containerd"

    @property
    def containerd_config(self) -> Path:
        """The containerd config file we render."""
        return self.containerd / "config.toml"

    @property
    def containerd_socket(self) -> Path:
        """The gRPC socket of containerd (CRI and ``ctr``)."""
        return self.containerd / "containerd.sock"

    @property
    def cni_conf_dir(self) -> Path:
        """CNI network configurations read by containerd."""
        return self.root / "cni" / "net.d"

    @property
    def cni_ipam_dir(self) -> Path:
        """host-local IPAM's reservations."""
        return self.root / "cni" / "ipam"

    @property
    def kubelet(self) -> Path:
        """The kubelet's config file and directories."""
        return self.root / "kubelet"

    @property
    def kubelet_config(self) -> Path:
        """The KubeletConfiguration file."""
        return self.kubelet / "config.yaml"

    @property
    def kubelet_root(self) -> Path:
        """The kubelet's ``--root-dir`` (pods, volumes, plugins)."""
        return self.kubelet / "root"

    @property
    def images(self) -> Path:
        """Image archives written for import (pause, side-loaded images)."""
        return self.root / "images"

    def log(self, component: str) -> Path:
        """Return the log file of `component`."""
        return self.logs / f"{component}.log"

    def pid(self, component: str) -> Path:
        """Return the PID file of `component`."""
        return self.pids / f"{component}.pid"

    def check(self) -> None:
        """Raise `PreflightError` if containerd's socket path would be too long for a unix socket."""
        longest = f"{self.containerd_socket}.ttrpc"
        if len(longest.encode()) > SOCKET_PATH_MAX:
            raise PreflightError(
                f"lab-cluster: state directory {self.root} is too deep: socket path {longest} exceeds "
                f"{SOCKET_PATH_MAX} bytes; set EDGEX_SMOKE_CLUSTER_STATE to a shorter path"
            )
