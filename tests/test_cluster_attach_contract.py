"""The k3s and microk8s drivers keep the driver contract when they attach to a live cluster.

Attached through ``--kubeconfig``, both drivers hand every pod verb to
`distros._cluster.Workload`; running the contract against the live cluster of the
k8s driver's tests (``$EDGEX_SMOKE_KUBECONFIG``, else the running lab cluster)
proves that shared layer against a real API server. It proves nothing about K3s
or MicroK8s themselves: the cluster is whatever the live tests use, and without
one these tests are skipped with the reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from distros import DistroSettings, _kube
from tests._contract import DistroContract, Subject
from tests.test_k8s_driver import Live, _intact, _leftovers, kube, live

__all__ = ["kube", "live"]  # module-scoped fixtures of the k8s driver's tests, shared here

FINGERPRINT_KEYS = ("kubernetes_version", "node_count", "nodes", "container_runtime", "distro_build", "provision")
DIAGNOSTICS = ("events.txt", "pod-{pod}.yaml", "web.log", "nodes.yaml")


def _subject(factory: str, live: Live, kube: _kube.KubeClient) -> Subject:
    def settings(run_id: str, work_dir: Path) -> DistroSettings:
        return DistroSettings(run_id=run_id, work_dir=work_dir, kubeconfig=live.kubeconfig, context=live.context)

    return Subject(
        factory=factory,
        settings=settings,
        image=live.image,
        leftovers=lambda run_id: _leftovers(kube, run_id),
        target_intact=lambda: _intact(kube),
        fingerprint_keys=FINGERPRINT_KEYS,
        diagnostic_names=DIAGNOSTICS,
        mid_apply_hook="distros._kube:KubeClient.apply_one",
    )


class TestK3sAttachedContract(DistroContract):
    """k3s with ``--kubeconfig``: attached, so nothing of the cluster is ever removed."""

    @pytest.fixture
    def subject(self, live: Live, kube: _kube.KubeClient) -> Subject:
        return _subject("distros.k3s:K3sDistro", live, kube)


class TestMicroK8sAttachedContract(DistroContract):
    """microk8s with ``--kubeconfig``: attached, so nothing of the cluster is ever removed."""

    @pytest.fixture
    def subject(self, live: Live, kube: _kube.KubeClient) -> Subject:
        return _subject("distros.microk8s:MicroK8sDistro", live, kube)
