"""cloudcore's and edgecore's configuration for the lab: everything under the lab's state directory.

Both start from KubeEdge's own defaults (``--defaultconfig``) and change only what this host needs:

* cloudcore talks to the lab cluster through its admin kubeconfig; its CA, certificates and unix socket live
  under the state directory; its iptables manager is off (it would rewrite the host's rules for CloudStream,
  which is off too).
* edgecore is a second node on the same host as the lab cluster's kubelet, so nothing of theirs may meet:
  its own node name, containerd (`Layout.edge_runtime`), root directory, pod log directory, cgroup root and
  ports. The event bus and device twin are off: they need an MQTT broker on 127.0.0.1:1883, the port the
  EdgeX pod's own broker takes under hostNetwork.
* No CAP_SYS_RESOURCE: ``oomScoreAdj: 0``, as for the lab kubelet (`lab.cluster.kubelet`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab.cluster import kubelet
from lab.cluster import layout as cluster_layout
from lab.kubeedge import layout
from lab.kubeedge.layout import Layout

EDGE_ROLE_TAINT = "node-role.kubernetes.io/edge"
EDGE_BRIDGE = "edgexedge0"
EDGE_POD_CIDR = "10.245.0.0/24"
"""The edge node's pod network, for its sandboxes that are not hostNetwork; apart from the lab cluster's."""


def edge_directories(state: Layout) -> list[Path]:
    """The directories edgecore expects to exist before it starts."""
    edge = state.edgecore_dir
    return [edge / "ca", edge / "certs", edge / "kubelet", pod_logs_dir(state), edge / "manifests", edge / "dmi"]


def pod_logs_dir(state: Layout) -> Path:
    """Where edgecore keeps the pods' container log files (``podLogsDir``)."""
    return state.edgecore_dir / "pod-logs"


def cloudcore(state: Layout, *, kubeconfig: Path, advertise_address: str) -> dict[str, Any]:
    """Return the CloudCore configuration document."""
    cloud = state.cloudcore_dir
    return {
        "apiVersion": "cloudcore.config.kubeedge.io/v1alpha1",
        "kind": "CloudCore",
        "commonConfig": {
            "monitorServer": {"bindAddress": f"127.0.0.1:{layout.CLOUDCORE_MONITOR_PORT}"},
            "tunnelPort": layout.CLOUDCORE_TUNNEL_PORT,
        },
        "kubeAPIConfig": {"kubeConfig": str(kubeconfig), "master": "", "qps": 100, "burst": 200},
        "modules": {
            "cloudHub": {
                "enable": True,
                "advertiseAddress": [advertise_address],
                "dnsNames": [""],
                "nodeLimit": 10,
                "tlsCAFile": str(cloud / "ca" / "rootCA.crt"),
                "tlsCAKeyFile": str(cloud / "ca" / "rootCA.key"),
                "tlsCertFile": str(cloud / "certs" / "server.crt"),
                "tlsPrivateKeyFile": str(cloud / "certs" / "server.key"),
                "unixsocket": {"enable": True, "address": f"unix://{cloud / 'kubeedge.sock'}"},
                "websocket": {"enable": True, "address": advertise_address, "port": layout.CLOUDHUB_PORT},
                "https": {"enable": True, "address": advertise_address, "port": layout.CLOUDHUB_HTTPS_PORT},
                "quic": {"enable": False},
            },
            "cloudStream": {"enable": False},
            "iptablesManager": {"enable": False},
            "router": {"enable": False},
            "dynamicController": {"enable": False},
            "taskManager": {"enable": False},
        },
    }


def edgecore(
    state: Layout, *, node_name: str, cloud_address: str, token: str, pause_image: str = cluster_layout.PAUSE_IMAGE
) -> dict[str, Any]:
    """Return the EdgeCore configuration document (it carries the join `token`: write it 0600)."""
    edge = state.edgecore_dir
    runtime = f"unix://{state.edge_runtime.containerd_socket}"
    certs = {
        "tlsCaFile": str(edge / "ca" / "rootCA.crt"),
        "tlsCertFile": str(edge / "certs" / "server.crt"),
        "tlsPrivateKeyFile": str(edge / "certs" / "server.key"),
    }
    return {
        "apiVersion": "edgecore.config.kubeedge.io/v1alpha2",
        "kind": "EdgeCore",
        "database": {"aliasName": "default", "driverName": "sqlite3", "dataSource": str(edge / "edgecore.db")},
        "modules": {
            "edgeHub": {
                "enable": True,
                "heartbeat": 15,
                "httpServer": f"https://{cloud_address}:{layout.CLOUDHUB_HTTPS_PORT}",
                "websocket": {"enable": True, "server": f"{cloud_address}:{layout.CLOUDHUB_PORT}"},
                "quic": {"enable": False},
                "token": token,
                "rotateCertificates": True,
                **certs,
            },
            "edged": {
                "enable": True,
                "hostnameOverride": node_name,
                "podSandboxImage": pause_image,
                "registerNodeNamespace": "default",
                "registerSchedulable": True,
                "rootDirectory": str(edge / "kubelet"),
                "tailoredKubeletConfig": {
                    "address": "127.0.0.1",
                    "readOnlyPort": layout.EDGED_READONLY_PORT,
                    "healthzBindAddress": "127.0.0.1",
                    "healthzPort": layout.EDGED_HEALTHZ_PORT,
                    "cgroupDriver": "cgroupfs",
                    "cgroupsPerQOS": True,
                    "cgroupRoot": layout.EDGE_CGROUP_ROOT,
                    "failSwapOn": False,
                    "failCgroupV1": False,
                    "oomScoreAdj": 0,
                    "containerRuntimeEndpoint": runtime,
                    "imageServiceEndpoint": runtime,
                    "clusterDomain": "cluster.local",
                    "resolvConf": "/etc/resolv.conf",
                    "podLogsDir": str(pod_logs_dir(state)),
                    "staticPodPath": str(edge / "manifests"),
                    "volumePluginDir": str(edge / "volume-plugins"),
                    "makeIPTablesUtilChains": False,
                    **kubelet.DISK_POLICY,
                    # Only pods meant for the edge go there: the lab cluster's own runs must keep landing on its
                    # node, whose containerd holds their images. The kubeedge overlay tolerates this taint.
                    "registerWithTaints": [{"key": EDGE_ROLE_TAINT, "effect": "NoSchedule"}],
                },
            },
            "edgeStream": {"enable": False},
            "eventBus": {"enable": False},
            "deviceTwin": {"enable": False, "dmiSockPath": str(edge / "dmi")},
            "metaManager": {"enable": True, "metaServer": {"enable": False}},
            "serviceBus": {"enable": False},
            "taskManager": {"enable": False},
            "dbTest": {"enable": False},
        },
    }
