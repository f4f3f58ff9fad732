"""HTTP health probes of the lab cluster's components; each returns False for "not yet", never raises."""

from __future__ import annotations

import requests

from lab.cluster import layout
from lab.cluster.pki import Pki

PROBE_TIMEOUT_S = 3.0


def _ok(url: str, pki: Pki, *, client_cert: bool) -> bool:
    cert = (str(pki.cert("admin")), str(pki.key("admin"))) if client_cert else None
    try:
        response = requests.get(url, verify=str(pki.ca), cert=cert, timeout=PROBE_TIMEOUT_S)
    except requests.RequestException:
        return False
    return response.status_code == 200 and response.text.strip() == "ok"


def apiserver_ready(pki: Pki) -> bool:
    """Tell whether kube-apiserver's ``/readyz`` passes (every post-start hook done)."""
    return _ok(f"https://127.0.0.1:{layout.APISERVER_PORT}/readyz", pki, client_cert=True)


def controller_manager_healthy(pki: Pki) -> bool:
    """Tell whether kube-controller-manager's ``/healthz`` passes."""
    return _ok(f"https://127.0.0.1:{layout.CONTROLLER_MANAGER_PORT}/healthz", pki, client_cert=False)


def scheduler_healthy(pki: Pki) -> bool:
    """Tell whether kube-scheduler's ``/healthz`` passes."""
    return _ok(f"https://127.0.0.1:{layout.SCHEDULER_PORT}/healthz", pki, client_cert=False)


def kubelet_healthy() -> bool:
    """Tell whether the kubelet's local ``/healthz`` (plain HTTP on 127.0.0.1) passes."""
    try:
        response = requests.get(f"http://127.0.0.1:{layout.KUBELET_HEALTHZ_PORT}/healthz", timeout=PROBE_TIMEOUT_S)
    except requests.RequestException:
        return False
    return response.status_code == 200 and response.text.strip() == "ok"
