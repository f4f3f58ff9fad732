"""The kubelet's KubeletConfiguration and command line for this kind of host.

Host facts behind the settings:

* cgroup v1 hybrid, no systemd: ``cgroupDriver: cgroupfs``; ``failCgroupV1: false`` (1.34 only warns, 1.35+
  refuses cgroup v1 without it).
* No swap configured, but ``failSwapOn: false`` keeps hosts that have swap working.
* No CAP_SYS_RESOURCE: ``oomScoreAdj: 0`` (the default -999 cannot be set). The kubelet still logs
  ``Failed to set rlimit on max file handles`` and ``Failed to ensure process in container with oom score``;
  both are harmless.
* Everything it writes goes under the state directory: ``--root-dir``, ``podLogsDir`` and ``volumePluginDir``.

The kubelet serves with a certificate from our CA, so the apiserver verifies it (``--kubelet-certificate-authority``)
for ``exec``, ``logs`` and ``port-forward``; it authenticates callers by client certificate or token review and
authorizes them by subject access review (``Webhook``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from lab.cluster import layout
from lab.cluster.layout import Layout
from lab.cluster.pki import Pki

RESOLV_CONF = Path("/etc/resolv.conf")

DISK_POLICY: dict[str, Any] = {
    # Hosts shared with builds fill their disks: evict only when really short. Side-loaded images cannot be
    # pulled again (there is no registry), so image garbage collection is off (a high threshold of 100).
    "evictionHard": {
        "memory.available": "100Mi",
        "nodefs.available": "2%",
        "nodefs.inodesFree": "2%",
        "imagefs.available": "2%",
    },
    "imageGCHighThresholdPercent": 100,
    "imageGCLowThresholdPercent": 99,
    "serializeImagePulls": False,
}
"""Eviction and image garbage collection for this kind of host; the lab KubeEdge's edge node uses it too."""


def config(state: Layout, pki: Pki) -> dict[str, Any]:
    """Return the KubeletConfiguration document."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": "0.0.0.0",  # noqa: S104 - the apiserver reaches the kubelet on the node IP
        "port": layout.KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": layout.KUBELET_HEALTHZ_PORT,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(pki.ca)},
        },
        "authorization": {"mode": "Webhook"},
        "tlsCertFile": str(pki.cert("kubelet-serving")),
        "tlsPrivateKeyFile": str(pki.key("kubelet-serving")),
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "cgroupDriver": "cgroupfs",
        "failSwapOn": False,
        "failCgroupV1": False,
        "oomScoreAdj": 0,
        "containerRuntimeEndpoint": f"unix://{state.containerd_socket}",
        "clusterDomain": "cluster.local",
        "clusterDNS": [],
        "resolvConf": str(RESOLV_CONF),
        "staticPodPath": "",
        "registerNode": True,
        "podLogsDir": str(state.kubelet / "pod-logs"),
        "volumePluginDir": str(state.kubelet / "volume-plugins"),
        **DISK_POLICY,
    }


def write_config(state: Layout, pki: Pki) -> Path:
    """Write the KubeletConfiguration and create the kubelet's directories; return the file."""
    for sub in (state.kubelet_root, state.kubelet / "pod-logs", state.kubelet / "volume-plugins"):
        sub.mkdir(parents=True, exist_ok=True)
    state.kubelet_config.write_text(yaml.safe_dump(config(state, pki), sort_keys=False))
    return state.kubelet_config


def argv(bindir: Path, state: Layout, node_name: str, node_ip: str) -> list[str]:
    """Return the kubelet's command line."""
    return [
        str(bindir / "kubelet"),
        f"--config={state.kubelet_config}",
        f"--kubeconfig={state.kubeconfigs / 'kubelet.kubeconfig'}",
        f"--root-dir={state.kubelet_root}",
        f"--hostname-override={node_name}",
        f"--node-ip={node_ip}",
    ]
