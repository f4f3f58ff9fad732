"""Distro overlays: each renders into a schema-valid pod, and each distro's invariants hold.

These check the rendered manifest only; whether a pod so rendered runs on the
distro is for the nightly matrix to show.
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml

import distros
import manifests
from distros import _host
from manifests import _render

OWNED_OVERLAYS = ("k3s", "microk8s", "kubeedge")
K8S_VERSIONS = ("1.27", kubernetes_validate.latest_version())
IMAGE_SOURCES = ("lab", "upstream")


def _render_objects(distro: str, images: str = "lab", **kwargs: Any) -> list[dict[str, Any]]:
    return manifests.render(
        release=kwargs.pop("release", "4.0"),
        distro=distro,
        images=manifests.ImageSource.parse(images),
        run_id="r1",
        **kwargs,
    )


def _pod(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (pod,) = [obj for obj in objects if obj["kind"] == "Pod"]
    return pod


def _gateway(pod: dict[str, Any]) -> dict[str, Any]:
    (gateway,) = [c for c in pod["spec"]["containers"] if c["name"] == "gateway"]
    assert isinstance(gateway, dict)
    return gateway


def test_every_shipped_overlay_is_for_a_known_distro() -> None:
    assert set(OWNED_OVERLAYS) <= set(manifests.OVERLAYS)
    assert set(manifests.OVERLAYS) == set(distros.names())  # one overlay folder per registered distro


@pytest.mark.parametrize("distro", OWNED_OVERLAYS)
def test_overlay_file_is_a_patch_of_metadata_and_spec_only(distro: str) -> None:
    patch = yaml.safe_load((_render.OVERLAYS_DIR / distro / _render.OVERLAY_FILE).read_text())
    assert isinstance(patch, dict)
    assert set(patch) <= {"metadata", "spec"}


@pytest.mark.parametrize("k8s_version", K8S_VERSIONS)
@pytest.mark.parametrize("images", IMAGE_SOURCES)
@pytest.mark.parametrize("release", manifests.RELEASES)
@pytest.mark.parametrize("distro", manifests.OVERLAYS)
def test_overlay_renders_and_validates_against_kubernetes_schema(
    distro: str, release: str, images: str, k8s_version: str
) -> None:
    objects = _render_objects(distro, images, release=release)
    assert [obj["kind"] for obj in objects] == ["ConfigMap", "ConfigMap", "ConfigMap", "ConfigMap", "Pod"]
    for obj in objects:
        kubernetes_validate.validate(obj, k8s_version, strict=True)


@pytest.mark.parametrize("distro", ["k3s", "microk8s"])
def test_k3s_and_microk8s_overlays_leave_the_base_pod_unchanged(distro: str) -> None:
    # Their hostPorts are published by the CNI's portmap plugin on the node IP: nothing to patch.
    assert _render_objects(distro) == _render_objects("podman")


def test_kubeedge_pod_runs_on_an_edge_node_with_host_network() -> None:
    spec = _pod(_render_objects("kubeedge"))["spec"]
    assert spec["hostNetwork"] is True
    assert spec["dnsPolicy"] == "ClusterFirstWithHostNet"
    # The overlay and the driver agree on the edge role label.
    assert spec["nodeSelector"] == {_host.EDGE_ROLE_LABEL: ""}


def test_kubeedge_pod_tolerates_the_edge_taints() -> None:
    tolerations = _pod(_render_objects("kubeedge"))["spec"]["tolerations"]
    assert {"key": _host.EDGE_ROLE_LABEL, "operator": "Exists", "effect": "NoSchedule"} in tolerations
    # Edge autonomy: losing the cloud must not evict the pod after the default 300 s.
    unreachable = [t for t in tolerations if t["key"] == "node.kubernetes.io/unreachable"]
    assert unreachable == [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}]


@pytest.mark.parametrize(("http_port", "mqtt_port"), [(8000, 1884), (18000, 11884)])
def test_kubeedge_gateway_container_ports_equal_host_ports(http_port: int, mqtt_port: int) -> None:
    """Kubernetes requires containerPort == hostPort under hostNetwork; the renderer keeps them equal."""
    pod = _pod(_render_objects("kubeedge", gateway_http_port=http_port, gateway_mqtt_port=mqtt_port))
    ports = {p["name"]: p for p in _gateway(pod)["ports"]}
    assert {name: (p["containerPort"], p["hostPort"]) for name, p in ports.items()} == {
        "http": (http_port, http_port),
        "mqtt": (mqtt_port, mqtt_port),
    }
    kubernetes_validate.validate(pod, K8S_VERSIONS[-1], strict=True)


def test_kubeedge_only_the_gateway_listens_beyond_localhost() -> None:
    pod = _pod(_render_objects("kubeedge"))
    with_ports = [c["name"] for c in pod["spec"]["containers"] if c.get("ports")]
    assert with_ports == ["gateway"]


def test_kubeedge_overlay_keeps_containers_volumes_and_labels() -> None:
    edge = _render_objects("kubeedge")
    base = _render_objects("podman")
    assert _pod(edge)["spec"]["containers"] == _pod(base)["spec"]["containers"]
    assert _pod(edge)["spec"]["volumes"] == _pod(base)["spec"]["volumes"]
    assert _pod(edge)["metadata"] == _pod(base)["metadata"]
    assert edge[:3] == base[:3]  # the ConfigMaps
