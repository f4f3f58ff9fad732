"""etcd for the lab cluster: Debian's ``etcd-server`` (3.4.23) on 127.0.0.1, plain HTTP, one member.

kube-apiserver 1.34 accepts 3.4.23: it only logs ``RequestWatchProgress feature is not supported`` and serves
consistent lists from etcd instead of its watch cache. Nothing but the local apiserver can reach it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from harness import proc
from lab.cluster import layout
from lab.cluster.layout import Layout

MEMBER = "edgex-smoke-lab"
HEALTH_TIMEOUT_S = 2.0


def client_url() -> str:
    """Return the URL kube-apiserver uses."""
    return f"http://127.0.0.1:{layout.ETCD_CLIENT_PORT}"


def argv(state: Layout) -> list[str]:
    """Return etcd's command line."""
    peer = f"http://127.0.0.1:{layout.ETCD_PEER_PORT}"
    return [
        proc.which("etcd", package="etcd-server"),
        f"--name={MEMBER}",
        f"--data-dir={state.etcd_data}",
        f"--listen-client-urls={client_url()}",
        f"--advertise-client-urls={client_url()}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster={MEMBER}={peer}",
        "--initial-cluster-state=new",
        "--snapshot-count=10000",
        "--quota-backend-bytes=2147483648",
        "--log-level=warn",
        "--logger=zap",
    ]


def healthy() -> bool:
    """Tell whether etcd answers ``/health`` with ``{"health":"true"}``."""
    try:
        with urllib.request.urlopen(f"{client_url()}/health", timeout=HEALTH_TIMEOUT_S) as response:  # noqa: S310
            return bool(json.load(response).get("health") == "true")
    except (OSError, ValueError, urllib.error.URLError):
        return False
