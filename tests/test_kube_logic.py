"""The pure logic of distros._kube: naming, reasons a pod will not become ready, states, fingerprints.

The objects below have the shape the API server returns (``kubectl get -o json``, camelCase).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from distros import _kube

# -- fixtures shaped like API objects -----------------------------------------------------------


def _pod(*statuses: dict[str, Any], phase: str = "Pending", conditions: list[dict[str, Any]] | None = None) -> Any:
    names = [s["name"] for s in statuses] or ["web"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "edgex", "namespace": "edgex-smoke-x"},
        "spec": {
            "nodeName": "lab-node",
            "containers": [
                {
                    "name": n,
                    "image": "localhost/edgex-smoke-lab/infra:bookworm",
                    "ports": [{"containerPort": 8080, "hostPort": 18080, "protocol": "TCP"}] if n == "web" else [],
                }
                for n in names
            ],
        },
        "status": {
            "phase": phase,
            "conditions": conditions
            or [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-11-26T16:00:00Z"},
            ],
            "hostIP": "192.168.122.10",
            "podIP": "10.244.0.7",
            "containerStatuses": list(statuses),
        },
    }


def _status(name: str, state: dict[str, Any], *, ready: bool = False, restarts: int = 0, **extra: Any) -> Any:
    return {
        "name": name,
        "image": extra.pop("image", "localhost/edgex-smoke-lab/infra:bookworm"),
        "imageID": extra.pop("imageID", ""),
        "ready": ready,
        "restartCount": restarts,
        "started": "running" in state,
        "state": state,
        "lastState": extra.pop("lastState", {}),
        **extra,
    }


RUNNING = {"running": {"startedAt": "2026-11-26T16:00:03Z"}}
CREATING = {"waiting": {"reason": "ContainerCreating"}}
NEVER_PULL = {
    "waiting": {
        "reason": "ErrImageNeverPull",
        "message": 'Container image "localhost/edgex-smoke-test/absent:0" is not present with pull policy of Never',
    }
}
BACKOFF = {
    "waiting": {
        "reason": "ImagePullBackOff",
        "message": 'Back-off pulling image "postgres:18.1-alpine3.22": ErrImagePull: failed to pull and unpack image',
    }
}
CRASH = {
    "waiting": {
        "reason": "CrashLoopBackOff",
        "message": "back-off 20s restarting failed container=web pod=edgex_edgex-smoke-x(5f0c…)",
    }
}
LAST_EXIT_3 = {
    "terminated": {
        "exitCode": 3,
        "reason": "Error",
        "startedAt": "2026-11-26T16:00:05Z",
        "finishedAt": "2026-11-26T16:00:05Z",
        "containerID": "containerd://0123",
    }
}
UNSCHEDULABLE = [
    {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports. "
        "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
        "lastTransitionTime": "2026-11-26T16:00:00Z",
    }
]


# -- naming --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("run_id", "expected"),
    [
        ("20261126T153824Z-3f9a", "edgex-smoke-20261126t153824z-3f9a"),
        ("Run_With.Odd--Chars-", "edgex-smoke-run-with-odd-chars"),
        ("x" * 80, "edgex-smoke-" + "x" * 51),
    ],
)
def test_namespace_is_a_lower_case_rfc1123_label(run_id: str, expected: str) -> None:
    name = _kube.namespace_for(run_id)
    assert name == expected
    assert len(name) <= 63
    assert name[-1].isalnum()


def test_server_url_is_shown_without_credentials() -> None:
    assert _kube.redact_url("https://admin:s3cret@10.0.0.1:6443/prefix?token=x") == "https://10.0.0.1:6443/prefix"
    assert _kube.redact_url("https://[::1]:6443") == "https://[::1]:6443"


def test_api_errors_become_one_bounded_line() -> None:
    err = ApiException(status=422, reason="Unprocessable Entity")
    err.body = '{"kind":"Status","message":"Pod \\"edgex\\" is invalid: ' + "x" * 600 + '\\nsecond line","code":422}'
    text = _kube.api_error_text(err)
    assert text.startswith('422 Unprocessable Entity: Pod "edgex" is invalid: ')
    assert "\n" not in text
    assert len(text) <= _kube.API_MESSAGE_CHARS


# -- why a pod will not become ready ---------------------------------------------------------------


def test_a_ready_pod_has_no_blocker() -> None:
    pod = _pod(_status("web", RUNNING, ready=True), phase="Running")
    assert _kube.is_ready(pod)
    assert _kube.readiness(pod) == (1, 1)
    assert _kube.pod_blocker(pod) is None


def test_a_creating_container_is_not_a_blocker() -> None:
    pod = _pod(_status("web", CREATING))
    assert not _kube.is_ready(pod)
    assert _kube.pod_blocker(pod) is None


def test_never_pull_names_the_image() -> None:
    pod = _pod(_status("web", NEVER_PULL, image="localhost/edgex-smoke-test/absent:0"))
    blocker = _kube.pod_blocker(pod)
    assert blocker is not None
    assert blocker.startswith("container web cannot get image localhost/edgex-smoke-test/absent:0 (ErrImageNeverPull")


def test_image_pull_backoff_names_the_image() -> None:
    pod = _pod(_status("database", BACKOFF, image="postgres:18.1-alpine3.22"), _status("web", RUNNING, ready=True))
    blocker = _kube.pod_blocker(pod)
    assert blocker is not None
    assert "container database cannot get image postgres:18.1-alpine3.22 (ImagePullBackOff" in blocker


def test_a_first_crash_is_given_a_second_chance() -> None:
    pod = _pod(_status("core-data", CRASH, restarts=1, lastState=LAST_EXIT_3), phase="Running")
    assert _kube.pod_blocker(pod) is None


def test_crash_loop_names_the_last_exit_code_and_reason() -> None:
    pod = _pod(_status("web", CRASH, restarts=2, lastState=LAST_EXIT_3), phase="Running")
    assert _kube.pod_blocker(pod) == (
        "container web is in CrashLoopBackOff after 2 restart(s); last exit code 3 (Error)"
    )


def test_unschedulable_quotes_the_scheduler() -> None:
    pod = _pod(conditions=UNSCHEDULABLE)
    pod["status"].pop("containerStatuses")
    blocker = _kube.pod_blocker(pod)
    assert blocker is not None
    assert blocker.startswith("it is unschedulable: 0/1 nodes are available: 1 node(s) didn't have free ports")


def test_configuration_errors_stop_the_wait() -> None:
    message = 'configmap "edgex-common-config" not found'
    state = {"waiting": {"reason": "CreateContainerConfigError", "message": message}}
    blocker = _kube.pod_blocker(_pod(_status("core-data", state)))
    assert blocker == (
        'container core-data cannot start (CreateContainerConfigError: configmap "edgex-common-config" not found)'
    )


def test_init_container_pull_errors_stop_the_wait() -> None:
    pod = _pod(_status("web", {"waiting": {"reason": "PodInitializing"}}))
    pod["status"]["initContainerStatuses"] = [_status("init", NEVER_PULL, image="localhost/x:1")]
    blocker = _kube.pod_blocker(pod)
    assert blocker is not None
    assert blocker.startswith("container init cannot get image localhost/x:1")


def test_failed_pod_is_a_blocker() -> None:
    pod = _pod(_status("web", {"terminated": {"exitCode": 1, "reason": "Error"}}), phase="Failed")
    pod["status"]["reason"] = "Evicted"
    pod["status"]["message"] = "The node was low on resource: memory."
    assert _kube.pod_blocker(pod) == "the pod failed (Evicted: The node was low on resource: memory.)"


def test_timeout_detail_names_probe_failures_and_waiting_containers() -> None:
    pod = _pod(_status("web", RUNNING), _status("gateway", CREATING), phase="Running")
    events = [
        {
            "type": "Warning",
            "reason": "Unhealthy",
            "message": 'Readiness probe failed: Get "http://10.244.0.7:8080/": connection refused',
            "involvedObject": {"kind": "Pod", "name": "edgex", "fieldPath": "spec.containers{web}"},
            "lastTimestamp": "2026-11-26T16:00:09Z",
            "count": 4,
        }
    ]
    events.append(
        {
            "type": "Warning",
            "reason": "MissingClusterDNS",
            "message": "kubelet does not have ClusterDNS IP configured and cannot create Pod using ClusterFirst",
            "involvedObject": {"kind": "Pod", "name": "edgex"},
            "lastTimestamp": "2026-11-26T16:00:10Z",
        }
    )
    detail = _kube.not_ready_detail(pod, events)
    assert detail == (
        'web is running but not ready (Readiness probe failed: Get "http://10.244.0.7:8080/": connection refused); '
        "gateway is waiting (ContainerCreating)"
    )


def test_timeout_detail_names_the_last_telling_warning() -> None:
    pod = _pod(_status("web", CREATING))
    events = [
        {
            "type": "Warning",
            "reason": "FailedCreatePodSandBox",
            "message": 'Failed to create pod sandbox: plugin type="bridge" failed (add): failed to allocate',
            "involvedObject": {"kind": "Pod", "name": "edgex"},
            "lastTimestamp": "2026-11-26T16:00:05Z",
        }
    ]
    assert _kube.not_ready_detail(pod, events) == (
        "web is waiting (ContainerCreating); last warning FailedCreatePodSandBox: "
        'Failed to create pod sandbox: plugin type="bridge" failed (add): failed to allocate'
    )


def test_timeout_detail_without_a_pod_or_status() -> None:
    assert _kube.not_ready_detail(None) == "the pod does not exist"
    pod = _pod(conditions=UNSCHEDULABLE)
    pod["status"].pop("containerStatuses")
    assert _kube.not_ready_detail(pod).startswith("not scheduled (0/1 nodes are available")


# -- container states --------------------------------------------------------------------------------


def test_container_states_carry_ready_restarts_state_image_and_digest() -> None:
    pod = _pod(
        _status(
            "web",
            RUNNING,
            ready=True,
            restarts=1,
            image="docker.io/library/nginx:1.29",
            imageID="docker.io/library/nginx@sha256:" + "a" * 64,
        ),
        _status("db", CRASH, restarts=4, lastState=LAST_EXIT_3, imageID="sha256:" + "b" * 64),
        phase="Running",
    )
    states = _kube.container_states_of(pod)
    assert [(s.name, s.state, s.ready, s.restarts) for s in states] == [
        ("db", "waiting (CrashLoopBackOff)", False, 4),
        ("web", "running", True, 1),
    ]
    assert states[1].image == "docker.io/library/nginx:1.29"
    assert states[1].image_digest == "sha256:" + "a" * 64
    assert states[0].image_digest == "sha256:" + "b" * 64


def test_containers_without_status_are_pending() -> None:
    pod = _pod()
    pod["status"].pop("containerStatuses")
    assert [(s.name, s.state, s.ready) for s in _kube.container_states_of(pod)] == [("web", "pending", False)]


def test_terminated_state_shows_reason_and_exit_code() -> None:
    pod = _pod(_status("web", {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}))
    (state,) = _kube.container_states_of(pod)
    assert (state.state, state.exit_code) == ("terminated (OOMKilled, exit code 137)", 137)


def test_host_ports_map_to_container_ports() -> None:
    pod = _pod(_status("web", RUNNING))
    assert _kube.host_port_map(pod) == {18080: 8080}
    assert _kube.host_ports(pod) == [18080]


# -- exec status ----------------------------------------------------------------------------------------


def test_exec_status_channel_gives_the_exit_code() -> None:
    assert _kube._exit_status('{"metadata":{},"status":"Success"}') == (0, "")
    failure = (
        '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: exit status 3",'
        '"reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}'
    )
    assert _kube._exit_status(failure) == (3, "")
    missing = (
        '{"metadata":{},"status":"Failure","message":"failed to exec in container: exec: \\"nope\\": '
        'executable file not found in $PATH","reason":"InternalError"}'
    )
    code, message = _kube._exit_status(missing)
    assert code == 127
    assert "executable file not found" in message


# -- fingerprint -------------------------------------------------------------------------------------------

LAB_NODE: dict[str, Any] = {
    "metadata": {
        "name": "lab-node",
        "labels": {"kubernetes.io/hostname": "lab-node", "node-role.kubernetes.io/control-plane": ""},
        "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
    },
    "spec": {"podCIDR": "10.244.0.0/24"},
    "status": {
        "addresses": [{"type": "Hostname", "address": "lab-node"}, {"type": "InternalIP", "address": "172.17.0.2"}],
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
        "nodeInfo": {
            "architecture": "amd64",
            "containerRuntimeVersion": "containerd://1.6.20~ds1",
            "kernelVersion": "6.1.0-28-amd64",
            "kubeletVersion": "v1.34.4",
            "osImage": "Debian GNU/Linux 12 (bookworm)",
        },
    },
}
K3S_NODE: dict[str, Any] = {
    "metadata": {
        "name": "k3s-1",
        "labels": {
            "node-role.kubernetes.io/control-plane": "true",
            "node-role.kubernetes.io/master": "true",
            "node.kubernetes.io/instance-type": "k3s",
        },
        "annotations": {"flannel.alpha.coreos.com/backend-type": "vxlan", "k3s.io/node-args": "[]"},
    },
    "spec": {},
    "status": {
        "addresses": [{"type": "InternalIP", "address": "10.0.0.5"}, {"type": "ExternalIP", "address": "1.2.3.4"}],
        "conditions": [{"type": "Ready", "status": "True"}],
        "nodeInfo": {
            "architecture": "arm64",
            "containerRuntimeVersion": "containerd://1.7.23-k3s2",
            "kernelVersion": "6.8.0",
            "kubeletVersion": "v1.31.4+k3s1",
            "osImage": "Ubuntu 24.04.1 LTS",
        },
    },
}
EDGE_NODE: dict[str, Any] = {
    "metadata": {"name": "edge-1", "labels": {"node-role.kubernetes.io/edge": "", "node-role.kubernetes.io/agent": ""}},
    "spec": {"unschedulable": True},
    "status": {
        "addresses": [{"type": "ExternalIP", "address": "10.0.0.9"}],
        "conditions": [{"type": "Ready", "status": "True"}],
        "nodeInfo": {"containerRuntimeVersion": "containerd://1.7.23-k3s2", "kubeletVersion": "v1.31.4-kubeedge-v1.20"},
    },
}


def _named(namespace: str, name: str) -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": name}}


def test_fingerprint_of_the_lab_cluster_says_unknown_where_it_cannot_tell() -> None:
    facts = _kube.fingerprint_facts(
        {"gitVersion": "v1.34.4", "platform": "linux/amd64"},
        [LAB_NODE],
        storage_classes=[],
        pods=[],
        daemonsets=[],
    )
    assert facts == {
        "kubernetes_version": "v1.34.4",
        "platform": "linux/amd64",
        "node_count": 1,
        "nodes": ["lab-node (control-plane; Ready; 172.17.0.2; amd64)"],
        "node_roles": ["control-plane"],
        "kubelet": "v1.34.4",
        "container_runtime": "containerd://1.6.20~ds1",
        "os_image": "Debian GNU/Linux 12 (bookworm)",
        "kernel": "6.1.0-28-amd64",
        "cni": "unknown",
        "default_storage_class": "none",
        "kube_proxy": "unknown",
    }


def test_fingerprint_of_a_k3s_like_cluster() -> None:
    storage = [
        {
            "metadata": {
                "name": "local-path",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            "provisioner": "rancher.io/local-path",
        }
    ]
    pods = [_named("kube-system", "coredns-ccb96694c-7xk2p"), _named("kube-system", "traefik-5d45fc8cc9-q9f7n")]
    facts = _kube.fingerprint_facts(
        {"gitVersion": "v1.31.4+k3s1"}, [K3S_NODE, EDGE_NODE], storage_classes=storage, pods=pods, daemonsets=[]
    )
    assert facts["kubernetes_version"] == "v1.31.4+k3s1"
    assert facts["nodes"] == [
        "k3s-1 (control-plane/master; Ready; 10.0.0.5; arm64)",
        "edge-1 (agent/edge; NotReady; 10.0.0.9; ?)",
    ]
    assert facts["node_roles"] == ["agent", "control-plane", "edge", "master"]
    assert facts["container_runtime"] == "containerd://1.7.23-k3s2"
    assert facts["kubelet"] == "v1.31.4+k3s1, v1.31.4-kubeedge-v1.20"
    assert facts["cni"] == "flannel"
    assert facts["default_storage_class"] == "local-path (rancher.io/local-path)"
    assert facts["kube_proxy"] == "unknown"


@pytest.mark.parametrize(
    ("pods", "expected"),
    [
        ([_named("kube-flannel", "kube-flannel-ds-abcde")], "flannel"),
        ([_named("kube-system", "calico-node-x1"), _named("kube-system", "calico-kube-controllers-y")], "calico"),
        ([_named("kube-system", "cilium-7lqz8"), _named("kube-system", "cilium-operator-1")], "cilium"),
        ([_named("kube-system", "canal-abc"), _named("kube-system", "calico-kube-controllers-y")], "canal"),
        ([_named("kube-system", "kindnet-x")], "kindnet"),
        (None, "unknown"),
    ],
)
def test_cni_is_detected_from_pod_names(pods: list[dict[str, Any]] | None, expected: str) -> None:
    assert _kube.detect_cni([LAB_NODE], pods) == expected


def test_cni_is_detected_from_node_annotations() -> None:
    node = copy.deepcopy(LAB_NODE)
    node["metadata"]["annotations"]["projectcalico.org/IPv4Address"] = "172.17.0.2/16"
    assert _kube.detect_cni([node], []) == "calico"


def test_kube_proxy_detection() -> None:
    assert _kube.detect_kube_proxy([], [{"metadata": {"name": "kube-proxy"}}]) == "present (DaemonSet)"
    assert _kube.detect_kube_proxy([_named("kube-system", "kube-proxy-lab-node")], []) == "present (pod)"
    assert _kube.detect_kube_proxy([_named("default", "kube-proxy-lookalike")], None) == "unknown"


def test_default_storage_class_unknown_when_unreadable() -> None:
    assert _kube.default_storage_class(None) == "unknown"
    beta = [{"metadata": {"name": "old", "annotations": {"storageclass.beta.kubernetes.io/is-default-class": "true"}}}]
    assert _kube.default_storage_class(beta) == "old (?)"


def test_node_address_prefers_internal_ip() -> None:
    assert _kube.node_address(K3S_NODE) == "10.0.0.5"
    assert _kube.node_address(EDGE_NODE) == "10.0.0.9"
    assert _kube.node_address({"status": {}}) is None
    assert _kube.node_is_ready(LAB_NODE)
    assert not _kube.node_is_ready(EDGE_NODE)  # cordoned


def test_local_address_detection() -> None:
    assert _kube.local_address("127.0.0.1")
    assert not _kube.local_address("198.51.100.77")  # TEST-NET-2, never assigned
