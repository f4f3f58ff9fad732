"""The running lab cluster end to end: side-load an image, run a pod, reach its hostPort, exec and read logs.

Skipped unless the lab cluster runs (``python -m lab.cluster up``); it never starts or stops the cluster.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from kubernetes import client, config
from kubernetes.stream import stream

from distros import _sideload, local_cluster
from harness import proc
from lab import podman
from lab.cluster import api, host

INFRA_IMAGE = "localhost/edgex-smoke-lab/infra:bookworm"
MARKER = "lab-cluster-live-marker"
POD_TIMEOUT_S = 90.0
HTTP_TIMEOUT_S = 30.0
POLL_S = 0.5  # pod phase and the first HTTP answer change within a second or two

CLUSTER = api.status()
pytestmark = [
    pytest.mark.needs_podman,
    pytest.mark.skipif(CLUSTER is None, reason="the lab cluster is not running: python -m lab.cluster up"),
]


def _free_host_port(core: Any) -> int:
    """Return a port no process listens on and no pod claims as hostPort (others may use the cluster too)."""
    claimed = {
        port.host_port
        for pod in core.list_pod_for_all_namespaces().items
        for container in pod.spec.containers
        for port in container.ports or []
        if port.host_port
    }
    candidates = list(range(18080, 18380))
    random.shuffle(candidates)
    for port in candidates:
        if port not in claimed and not host.port_in_use(port):
            return port
    raise AssertionError("no free TCP port in 18080-18379 for the hostPort")


@pytest.fixture(scope="module")
def cluster() -> api.LocalCluster:
    assert CLUSTER is not None
    return CLUSTER


@pytest.fixture(scope="module")
def core(cluster: api.LocalCluster) -> Iterator[Any]:
    api_client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield client.CoreV1Api(api_client)
    api_client.close()


@pytest.fixture(scope="module")
def namespace(core: Any) -> Iterator[str]:
    name = f"lab-live-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    deadline = time.monotonic() + 30
    while True:  # the ServiceAccount controller creates `default` within a second
        try:
            core.read_namespaced_service_account("default", name)
            break
        except client.ApiException:
            assert time.monotonic() < deadline, f"ServiceAccount {name}/default never appeared"
            time.sleep(0.2)
    yield name
    core.delete_namespace(name, grace_period_seconds=0)


@pytest.fixture(scope="module")
def web(core: Any, namespace: str, cluster: api.LocalCluster) -> tuple[str, int]:
    if not podman.image_exists(INFRA_IMAGE):
        pytest.skip(f"{INFRA_IMAGE} is not in podman storage: python -m lab images")
    api.load_images([INFRA_IMAGE])
    port = _free_host_port(core)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web"},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [
                {
                    "name": "nginx",
                    "image": INFRA_IMAGE,
                    "imagePullPolicy": "Never",
                    "command": ["sh", "-c", f"echo {MARKER}; exec nginx -g 'daemon off;'"],
                    "ports": [{"containerPort": 80, "hostPort": port}],
                }
            ],
        },
    }
    core.create_namespaced_pod(namespace, pod)
    deadline = time.monotonic() + POD_TIMEOUT_S
    while True:
        status = core.read_namespaced_pod("web", namespace).status
        ready = any(c.type == "Ready" and c.status == "True" for c in status.conditions or [])
        if status.phase == "Running" and ready:
            return "web", port
        assert status.phase in ("Pending", "Running"), f"pod web is {status.phase}: {status}"
        assert time.monotonic() < deadline, f"pod web not Running and Ready after {POD_TIMEOUT_S} s: {status}"
        time.sleep(POLL_S)


def test_the_node_runs_the_built_version(core: Any, cluster: api.LocalCluster) -> None:
    node = core.read_node(cluster.node_name)
    assert node.status.node_info.kubelet_version == cluster.version
    assert node.status.node_info.container_runtime_version.startswith("containerd://")
    assert any(a.address == cluster.node_ip for a in node.status.addresses)


def test_host_port_answers_on_the_node_ip(web: tuple[str, int], cluster: api.LocalCluster) -> None:
    _, port = web
    deadline = time.monotonic() + HTTP_TIMEOUT_S
    while True:
        try:
            response = requests.get(f"http://{cluster.node_ip}:{port}/", timeout=5)
            break
        except requests.RequestException:
            assert time.monotonic() < deadline, f"nothing answered on {cluster.node_ip}:{port}"
            time.sleep(POLL_S)
    assert response.status_code == 200
    assert "nginx" in response.text.lower()


def test_exec_runs_in_the_pod(core: Any, namespace: str, web: tuple[str, int]) -> None:
    name, _ = web
    # The client leaks the socket of a websocket the server closed first (WebSocket.close() returns early when
    # it is no longer connected, so shutdown() never runs): a ResourceWarning, an error under our filterwarnings.
    ws = stream(
        core.connect_get_namespaced_pod_exec,
        name,
        namespace,
        command=["cat", "/etc/hostname"],
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
        _preload_content=False,
    )
    try:
        ws.run_forever(timeout=30)
        assert not ws.is_open(), "exec did not finish within 30 s"
        output = ws.read_channel(1)
    finally:
        ws.close()
        ws.sock.shutdown()
    assert output.strip() == name


def test_logs_come_through_the_api(core: Any, namespace: str, web: tuple[str, int]) -> None:
    name, _ = web
    assert MARKER in core.read_namespaced_pod_log(name, namespace)


def test_the_running_cluster_describes_itself_for_smoke_runs(cluster: api.LocalCluster) -> None:
    described = local_cluster.read()
    assert described == cluster.descriptor()
    assert described.kubeconfig.is_file()
    assert described.containerd_address.is_socket()


def test_side_loading_again_imports_nothing_unless_podman_holds_another_image(
    web: tuple[str, int], cluster: api.LocalCluster
) -> None:
    assert api.load_images([INFRA_IMAGE]) == [], "the node already holds this very podman image"
    runtime = _sideload.NodeRuntime(ctr=("ctr", "--address", str(cluster.descriptor().containerd_address)))
    # Forget where the node's copy came from, as if the image had been rebuilt under the same tag since.
    proc.run(runtime.label_argv(INFRA_IMAGE, "sha256:older"), timeout_s=60)
    assert api.load_images([INFRA_IMAGE]) == [INFRA_IMAGE]
    listed = _sideload.parse_image_list(proc.run(runtime.list_argv(), timeout_s=60).stdout)
    assert listed[INFRA_IMAGE][_sideload.SOURCE_ID_LABEL] == podman.image_id(INFRA_IMAGE)
