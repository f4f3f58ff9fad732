"""Host facts and preflight checks for the lab cluster: node name and IP, root, tools, free ports."""

from __future__ import annotations

import errno
import json
import os
import re
import socket
from collections.abc import Iterable

from harness import proc
from harness.errors import PreflightError
from lab.cluster import cni, layout

IP_TIMEOUT_S = 10.0
_DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

TOOLS = {
    "etcd": "etcd-server",
    "containerd": "containerd",
    "ctr": "containerd",
    "runc": "runc",
    "openssl": "openssl",
    "gcc": "gcc libc6-dev",
    "iptables": "iptables",
    "ip": "iproute2",
    "umount": "mount",
}
"""Executables `up` needs, with the Debian package of each."""

PORTS = {
    layout.ETCD_CLIENT_PORT: "etcd",
    layout.ETCD_PEER_PORT: "etcd (peer)",
    layout.APISERVER_PORT: "kube-apiserver",
    layout.CONTROLLER_MANAGER_PORT: "kube-controller-manager",
    layout.SCHEDULER_PORT: "kube-scheduler",
    layout.KUBELET_PORT: "kubelet",
    layout.KUBELET_HEALTHZ_PORT: "kubelet (healthz)",
}


def node_name() -> str:
    """Return the node name: ``$EDGEX_SMOKE_CLUSTER_NODE_NAME`` or the lower-cased host name."""
    name = os.environ.get("EDGEX_SMOKE_CLUSTER_NODE_NAME") or socket.gethostname().lower()
    if not _DNS_1123.match(name) or len(name) > 253:
        raise PreflightError(
            f"lab-cluster: host name {name!r} is not a valid Kubernetes node name (RFC 1123); "
            "set EDGEX_SMOKE_CLUSTER_NODE_NAME to one"
        )
    return name


def node_ip() -> str:
    """Return ``$EDGEX_SMOKE_CLUSTER_NODE_IP``, else the IPv4 address of the default route's interface."""
    override = os.environ.get("EDGEX_SMOKE_CLUSTER_NODE_IP")
    if override:
        return override
    routes = json.loads(proc.run(["ip", "-j", "-4", "route", "show", "default"], timeout_s=IP_TIMEOUT_S).stdout)
    for route in routes:
        if route.get("prefsrc"):
            return str(route["prefsrc"])
        if route.get("dev"):
            addrs = json.loads(
                proc.run(["ip", "-j", "-4", "addr", "show", "dev", route["dev"]], timeout_s=IP_TIMEOUT_S).stdout
            )
            for link in addrs:
                for info in link.get("addr_info", []):
                    if info.get("family") == "inet" and info.get("scope") == "global":
                        return str(info["local"])
    raise PreflightError(
        "lab-cluster: no IPv4 default route, so no node IP; set EDGEX_SMOKE_CLUSTER_NODE_IP to the host's address"
    )


def port_in_use(port: int) -> bool:
    """Tell whether something listens on TCP `port` (SO_REUSEADDR: sockets in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))  # noqa: S104 - a bind test, closed at once
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def check(ports: Iterable[int] = PORTS) -> None:
    """Raise `PreflightError` unless we are root, every tool and CNI plugin is installed and the ports are free."""
    if os.geteuid() != 0:
        raise PreflightError("lab-cluster: must run as root (kubelet, containerd, iptables, mounts); run it as root")
    for tool, package in TOOLS.items():
        proc.which(tool, package=package)
    missing = cni.missing_plugins()
    if missing:
        raise PreflightError(
            f"lab-cluster cni: plugins {', '.join(missing)} missing from {layout.CNI_BIN_DIR}; "
            "apt-get install containernetworking-plugins"
        )
    busy = [f"{port} ({PORTS.get(port, '?')})" for port in ports if port_in_use(port)]
    if busy:
        raise PreflightError(
            f"lab-cluster: TCP port(s) {', '.join(busy)} already in use by another process; stop it "
            "(`ss -ltnp` shows which) or run `python -m lab.cluster down` if a stale lab cluster holds them"
        )
