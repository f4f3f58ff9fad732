"""The lab cluster's pod network: a CNI bridge conflist and the clean-up of what its plugins left behind.

The conflist is written once the node has its ``spec.podCIDR`` (allocated by kube-controller-manager from
`layout.CLUSTER_CIDR`); containerd watches its conf dir and the kubelet reports the node Ready as soon as it is
there. containerd sets up ``lo`` itself with the ``loopback`` plugin, so the list holds bridge (with host-local
IPAM) and portmap (hostPorts) only.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Collection
from pathlib import Path
from typing import Any

from harness import proc
from lab.cluster import layout
from lab.cluster.layout import Layout

CNI_VERSION = "1.0.0"
RESULTS_CACHE = Path("/var/lib/cni/results")
"""Where libcni (in containerd) caches each ADD result; DEL removes the file. The path is fixed in libcni."""
CONFLIST_NAME = "10-edgex-smoke-lab.conflist"
IPTABLES_TIMEOUT_S = 30.0
REQUIRED_PLUGINS = ("bridge", "host-local", "portmap", "loopback")
DESCRIPTION = "bridge + host-local + portmap (Debian containernetworking-plugins)"
"""What the lab cluster's pod network is, for reports: nothing on the API server says so."""

_CHAIN = re.compile(r"-j (CNI-[\w-]+)")


def conflist(
    pod_cidr: str, ipam_dir: Path, *, bridge: str = layout.BRIDGE, network: str = layout.CNI_NETWORK
) -> dict[str, Any]:
    """Return the network configuration list for pods on `pod_cidr` (the lab KubeEdge's edge node has its own)."""
    return {
        "cniVersion": CNI_VERSION,
        "name": network,
        "plugins": [
            {
                "type": "bridge",
                "bridge": bridge,
                "isGateway": True,
                "ipMasq": True,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": pod_cidr}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(ipam_dir),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def write(state: Layout, pod_cidr: str, *, bridge: str = layout.BRIDGE, network: str = layout.CNI_NETWORK) -> Path:
    """Write the conflist for `pod_cidr` atomically (containerd watches the directory); return its path."""
    state.cni_conf_dir.mkdir(parents=True, exist_ok=True)
    target = state.cni_conf_dir / CONFLIST_NAME
    partial = state.cni_conf_dir / f".{CONFLIST_NAME}.partial"
    document = conflist(pod_cidr, state.cni_ipam_dir, bridge=bridge, network=network)
    partial.write_text(json.dumps(document, indent=2) + "\n")
    partial.replace(target)
    return target


def missing_plugins() -> list[str]:
    """Return the plugins this network needs that are not in `layout.CNI_BIN_DIR`."""
    return [p for p in REQUIRED_PLUGINS if not (layout.CNI_BIN_DIR / p).is_file()]


def leftover_rules(
    rules: str, sandbox_ids: Collection[str], network: str = layout.CNI_NETWORK
) -> tuple[list[str], list[str]]:
    """Find the NAT rules of our pod sandboxes whose CNI DEL never ran.

    Args:
        rules: The output of ``iptables -t nat -S``.
        sandbox_ids: The sandboxes of the cluster being stopped; rules of any other sandbox are left alone.
        network: The CNI network name the bridge and portmap plugins put in their rule comments.

    Returns:
        The ``-A …`` rules tagged with `network` and one of `sandbox_ids`, and the per-pod chains they jump to.
    """
    tag = f'name: \\"{network}\\" id: \\"'
    tagged = [
        line
        for line in rules.splitlines()
        if line.startswith("-A ") and any(f'{tag}{sandbox}\\"' in line for sandbox in sandbox_ids)
    ]
    chains = sorted({m.group(1) for line in tagged for m in _CHAIN.finditer(line)} - {"CNI-HOSTPORT-SETMARK"})
    return tagged, chains


def sandbox_ids(state: Layout) -> list[str]:
    """Return the IDs of the pod sandboxes containerd still keeps for `state` (found on disk, even if it is down)."""
    found: set[str] = set()
    for base in (state.containerd / "root", state.containerd / "state"):
        directory = base / "io.containerd.grpc.v1.cri" / "sandboxes"
        if directory.is_dir():
            found.update(entry.name for entry in directory.iterdir() if entry.is_dir())
    return sorted(found)


def cached_results(sandboxes: Collection[str]) -> list[Path]:
    """Return libcni's cached ADD results of `sandboxes` on our network: those whose CNI DEL has not run yet."""
    if not sandboxes or not RESULTS_CACHE.is_dir():
        return []
    prefix = f"{layout.CNI_NETWORK}-"
    wanted = set(sandboxes)
    return [
        entry
        for entry in RESULTS_CACHE.iterdir()
        if entry.name.startswith(prefix) and entry.name[len(prefix) :].rsplit("-", 1)[0] in wanted
    ]


def remove_leftover_rules(sandboxes: Collection[str]) -> int:
    """Delete the NAT rules and per-pod chains that `sandboxes` left behind; return how many rules were removed.

    The shared ``CNI-HOSTPORT-*`` chains stay: other CNI users on the host (podman) may use them.
    """
    if not sandboxes:
        return 0
    iptables = proc.which("iptables", package="iptables")
    listing = proc.run([iptables, "-w", "-t", "nat", "-S"], timeout_s=IPTABLES_TIMEOUT_S).stdout
    tagged, chains = leftover_rules(listing, sandboxes)
    for rule in tagged:
        proc.run([iptables, "-w", "-t", "nat", "-D", *shlex.split(rule)[1:]], timeout_s=IPTABLES_TIMEOUT_S, check=False)
    for chain in chains:
        proc.run([iptables, "-w", "-t", "nat", "-F", chain], timeout_s=IPTABLES_TIMEOUT_S, check=False)
        proc.run([iptables, "-w", "-t", "nat", "-X", chain], timeout_s=IPTABLES_TIMEOUT_S, check=False)
    for result in cached_results(sandboxes):
        result.unlink(missing_ok=True)
    return len(tagged)
