"""The k8s driver: cluster-free logic first, then the contract and k8s specifics against a real API server.

Live tests run against ``$EDGEX_SMOKE_KUBECONFIG`` when set, else against the lab cluster
(``python -m lab.cluster up``) when it runs; otherwise they are skipped with the reason.
They attach (``provision=attach``), so they never stop the cluster.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from distros import Deployment, DistroSettings, Target, _kube, local_cluster
from distros.k8s import K8sDistro
from harness.errors import InfraError, ManifestError, PreflightError, ReadinessTimeoutError
from harness.labels import OWNER_PID, RUN_ID, ownership_labels, with_labels
from tests import _servers
from tests._contract import DistroContract, Subject
from tests._pods import small_pod

INFRA_IMAGE = "localhost/edgex-smoke-lab/infra:bookworm"
ROOT = Path(__file__).resolve().parent.parent

# -- cluster-free ------------------------------------------------------------------------------------


def _settings(tmp_path: Path, **changes: Any) -> DistroSettings:
    return DistroSettings(run_id="unit", work_dir=tmp_path, **changes)


def test_kubeconfig_comes_from_the_option_then_the_environment_then_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KUBECONFIG", "/from/env")
    assert K8sDistro(_settings(tmp_path, kubeconfig=Path("/from/option")))._attach_kubeconfig() == Path("/from/option")
    assert K8sDistro(_settings(tmp_path))._attach_kubeconfig() == Path("/from/env")
    monkeypatch.delenv("KUBECONFIG")
    with pytest.raises(PreflightError) as caught:
        K8sDistro(_settings(tmp_path))._attach_kubeconfig()
    assert str(caught.value).startswith("k8s: no kubeconfig to attach with; give --kubeconfig FILE, set $KUBECONFIG")
    home_config = tmp_path / "home" / ".kube" / "config"
    home_config.parent.mkdir(parents=True)
    home_config.write_text("{}")
    assert K8sDistro(_settings(tmp_path))._attach_kubeconfig() == home_config


def test_only_an_accepted_connection_proves_a_route() -> None:
    from distros._host import accepts  # noqa: PLC0415

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        assert accepts("127.0.0.1", listener.getsockname()[1], timeout_s=2)
    started = time.monotonic()
    assert not accepts("127.0.0.1", _servers.free_port(), timeout_s=1.5)  # refused: firewalls refuse too
    assert 1.0 <= time.monotonic() - started < 3


def test_the_driver_imports_no_lab_module() -> None:
    code = (
        "import sys, distros.k8s; assert not [m for m in sys.modules if m.split('.')[0] == 'lab'], sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)


def test_local_provisioning_without_a_running_cluster_fails_preflight_with_the_start_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(local_cluster.ENV_STATE_DIR, str(tmp_path / "state"))
    with pytest.raises(PreflightError) as caught:
        K8sDistro(_settings(tmp_path, provision="local")).preflight([])
    assert str(caught.value) == (
        f"k8s: --provision local: no local cluster is running (no {tmp_path / 'state' / local_cluster.FILE_NAME}); "
        "start it with 'python -m lab.cluster up' (make lab-cluster) in an edgex-smoke checkout"
    )


@pytest.mark.parametrize(
    ("content", "problem"), [("{not json", "cannot read the local cluster's descriptor"), ("{}", "lacks 'containerd'")]
)
def test_a_broken_local_cluster_descriptor_is_one_line_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, problem: str
) -> None:
    monkeypatch.setenv(local_cluster.ENV_STATE_DIR, str(tmp_path))
    local_cluster.descriptor_path().write_text(content)
    with pytest.raises(PreflightError) as caught:
        K8sDistro(_settings(tmp_path, provision="local")).preflight([])
    message = str(caught.value)
    assert problem in message and "restart it so it writes the file anew" in message
    assert "\n" not in message


def test_the_local_cluster_descriptor_round_trips_and_names_the_node_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(local_cluster.ENV_STATE_DIR, str(tmp_path))
    written = local_cluster.LocalCluster(
        kubeconfig=tmp_path / "admin.kubeconfig",
        node_name="node-1",
        containerd_address=tmp_path / "containerd.sock",
        facts={"kube_proxy": "none"},
    )
    written.write(local_cluster.descriptor_path())
    assert local_cluster.read() == written
    distro = K8sDistro(_settings(tmp_path, provision="local"))
    assert distro._connection() == (tmp_path / "admin.kubeconfig", None)
    runtime = distro._node_runtime()
    assert runtime is not None
    assert runtime.list_argv() == [
        "ctr",
        "--address",
        str(tmp_path / "containerd.sock"),
        "--namespace",
        "k8s.io",
        "images",
        "list",
    ]


def test_down_touches_no_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(local_cluster.ENV_STATE_DIR, str(tmp_path / "none"))
    distro = K8sDistro(_settings(tmp_path, kubeconfig=tmp_path / "absent"))
    distro.down(Target(distro="k8s", name="x", mode="attached", created=False))
    local = K8sDistro(_settings(tmp_path, provision="local"))
    local.down(Target(distro="k8s", name="x", mode="provisioned", created=False))


def test_undeploy_of_a_deployment_this_run_did_not_create_deletes_nothing(tmp_path: Path) -> None:
    distro = K8sDistro(_settings(tmp_path, kubeconfig=tmp_path / "absent"))
    target = Target(distro="k8s", name="x", mode="attached", created=False)
    distro.undeploy(target, Deployment(pod="edgex", run_id="old", created=False, namespace="edgex-smoke-old"))


# -- live: which cluster ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Live:
    """The API server the live tests use."""

    kubeconfig: Path
    context: str | None
    image: str
    lab: bool


def _find_live() -> Live | str:
    """The cluster to test against, or the reason there is none."""
    given = os.environ.get("EDGEX_SMOKE_KUBECONFIG")
    if given:
        image = os.environ.get("EDGEX_SMOKE_TEST_IMAGE", INFRA_IMAGE)
        return Live(Path(given), os.environ.get("EDGEX_SMOKE_CONTEXT") or None, image, lab=False)
    try:
        from lab.cluster import api  # noqa: PLC0415  # optional: only the live tests need it
    except ImportError as err:
        return f"k8s live tests: lab.cluster.api cannot be imported ({err}) and $EDGEX_SMOKE_KUBECONFIG is unset"
    cluster = api.status()
    if cluster is None:
        return (
            "k8s live tests: the lab cluster is not running (start it: python -m lab.cluster up) "
            "and $EDGEX_SMOKE_KUBECONFIG is unset"
        )
    return Live(cluster.kubeconfig, None, INFRA_IMAGE, lab=True)


@pytest.fixture(scope="module")
def live() -> Live:
    found = _find_live()
    if isinstance(found, str):
        pytest.skip(found)
    if found.lab:
        import lab  # noqa: PLC0415
        from lab.cluster import api  # noqa: PLC0415

        lab.ensure_infra_image()
        api.load_images([found.image])
    return found


@pytest.fixture(scope="module")
def kube(live: Live) -> Iterator[_kube.KubeClient]:
    client = _kube.KubeClient.from_kubeconfig(live.kubeconfig, live.context)
    yield client
    client.close()


def _leftovers(kube: _kube.KubeClient, run_id: str) -> list[str]:
    found = kube.objects_labelled(f"{RUN_ID}={run_id}")
    namespace = _kube.namespace_for(run_id)
    if kube.namespace(namespace) is not None:
        found.insert(0, f"namespace {namespace}")
    return found


def _intact(kube: _kube.KubeClient) -> bool:
    kube.check_reachable()
    return any(_kube.node_is_ready(n) for n in kube.nodes())


class TestK8sContract(DistroContract):
    """The driver contract against the live cluster, attached through its kubeconfig."""

    @pytest.fixture
    def subject(self, live: Live, kube: _kube.KubeClient) -> Subject:
        def settings(run_id: str, work_dir: Path) -> DistroSettings:
            return DistroSettings(
                run_id=run_id, work_dir=work_dir, kubeconfig=live.kubeconfig, context=live.context, provision="attach"
            )

        return Subject(
            factory="distros.k8s:K8sDistro",
            settings=settings,
            image=live.image,
            leftovers=lambda run_id: _leftovers(kube, run_id),
            target_intact=lambda: _intact(kube),
            fingerprint_keys=(
                "kubernetes_version",
                "node_count",
                "nodes",
                "kubelet",
                "container_runtime",
                "os_image",
                "kernel",
                "cni",
                "default_storage_class",
                "kube_proxy",
            ),
            diagnostic_names=("events.txt", "pod-{pod}.yaml", "web.log", "nodes.yaml"),
            mid_apply_hook="distros._kube:KubeClient.apply_one",
        )


# -- live: k8s specifics -------------------------------------------------------------------------------


@pytest.fixture
def run_id(request: pytest.FixtureRequest) -> str:
    return f"t{os.getpid()}-{time.monotonic_ns() % 10**9}"


@pytest.fixture
def driver(live: Live, kube: _kube.KubeClient, run_id: str, tmp_path: Path) -> Iterator[K8sDistro]:
    distro = K8sDistro(
        DistroSettings(run_id=run_id, work_dir=tmp_path, kubeconfig=live.kubeconfig, context=live.context)
    )
    yield distro
    kube.delete_namespace(_kube.namespace_for(run_id), 120)  # safety net; the tests assert the real cleanup
    distro.down(Target(distro="k8s", name="x", mode="attached", created=False))


def _pod(live: Live, run_id: str, **spec: Any) -> list[dict[str, Any]]:
    objects = with_labels(
        small_pod(live.image, name="web", host_port=_servers.free_port(), run_id=run_id),
        ownership_labels(run_id, keep=False),
    )
    objects[1]["spec"].update(spec)
    return objects


@contextmanager
def _deployed(driver: K8sDistro, objects: list[dict[str, Any]]) -> Iterator[tuple[Target, Deployment]]:
    target = driver.up()
    deployment = driver.deploy(target, objects)
    try:
        yield target, deployment
    finally:
        driver.undeploy(target, deployment)


def test_crash_loop_stops_the_wait_early_with_the_exit_code(
    live: Live, driver: K8sDistro, run_id: str, tmp_path: Path
) -> None:
    objects = _pod(live, run_id)
    objects[1]["spec"]["containers"][0]["command"] = ["sh", "-c", "echo dying; exit 3"]
    # Without a probe a container is Ready the moment it starts; a loaded node may report that before the exit.
    objects[1]["spec"]["containers"][0]["readinessProbe"] = {"exec": {"command": ["false"]}, "periodSeconds": 1}
    with _deployed(driver, objects) as (target, deployment):
        started = time.monotonic()
        with pytest.raises(ReadinessTimeoutError) as caught:
            driver.wait_deployed(target, deployment, timeout_s=120)
        elapsed = time.monotonic() - started
        message = str(caught.value)
        assert "container web is in CrashLoopBackOff after " in message
        assert "last exit code 3 (Error)" in message
        assert elapsed < 60, f"the crash loop was seen only after {elapsed:.0f} s"
        saved = {p.name: p for p in driver.collect_diagnostics(target, deployment, tmp_path / "diag")}
        assert "dying" in saved["web.log"].read_text()
        assert "dying" in saved["web.previous.log"].read_text()
        print(f"crash loop detected in {elapsed:.1f} s")


def test_missing_image_stops_the_wait_naming_the_image(live: Live, driver: K8sDistro, run_id: str) -> None:
    objects = _pod(live, run_id)
    objects[1]["spec"]["containers"][0]["image"] = "localhost/edgex-smoke-test/absent:0"
    with _deployed(driver, objects) as (target, deployment):
        started = time.monotonic()
        with pytest.raises(ReadinessTimeoutError) as caught:
            driver.wait_deployed(target, deployment, timeout_s=60)
        assert "container web cannot get image localhost/edgex-smoke-test/absent:0 (ErrImageNeverPull" in str(
            caught.value
        )
        assert time.monotonic() - started < 20


def test_unschedulable_pod_stops_the_wait_quoting_the_scheduler(live: Live, driver: K8sDistro, run_id: str) -> None:
    objects = _pod(live, run_id, nodeSelector={"edgex-smoke/absent": "yes"})
    with _deployed(driver, objects) as (target, deployment):
        with pytest.raises(ReadinessTimeoutError) as caught:
            driver.wait_deployed(target, deployment, timeout_s=60)
        assert "it is unschedulable: 0/" in str(caught.value)
        assert "node affinity/selector" in str(caught.value)


def test_timeout_names_what_is_missing(live: Live, driver: K8sDistro, run_id: str) -> None:
    objects = _pod(live, run_id)
    objects[1]["spec"]["containers"][0]["readinessProbe"] = {
        "exec": {"command": ["false"]},
        "periodSeconds": 1,
        "failureThreshold": 1,
    }
    with _deployed(driver, objects) as (target, deployment):
        with pytest.raises(ReadinessTimeoutError) as caught:
            driver.wait_deployed(target, deployment, timeout_s=6)
        message = str(caught.value)
        assert message.startswith(f"k8s: pod {deployment.namespace}/web not ready after 6 s: web is running but not")
        assert "Readiness probe failed" in message


def test_a_namespace_holding_objects_is_refused_and_left_alone(
    live: Live, kube: _kube.KubeClient, driver: K8sDistro, run_id: str
) -> None:
    namespace = _kube.namespace_for(run_id)
    kube.create_namespace(namespace, {"purpose": "someone-else"})
    kube.apply([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "theirs"}, "data": {}}], namespace)
    with pytest.raises(PreflightError) as caught:
        driver.deploy(driver.up(), _pod(live, run_id))
    assert str(caught.value).startswith(
        f"k8s: namespace {namespace} already holds 1 object(s) (configmaps/theirs); refusing to apply into it"
    )
    assert kube.namespace_contents(namespace) == ["configmaps/theirs"]


def _interrupt_after_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C right after the API server took the objects: the moment a half-made run is most likely."""
    apply = _kube.KubeClient.apply

    def apply_then_interrupt(self: _kube.KubeClient, objects: Any, namespace: str) -> Any:
        apply(self, objects, namespace)
        raise KeyboardInterrupt

    monkeypatch.setattr(_kube.KubeClient, "apply", apply_then_interrupt)


def test_an_interrupted_apply_removes_the_namespace_it_made(
    live: Live, kube: _kube.KubeClient, driver: K8sDistro, run_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _interrupt_after_apply(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        driver.deploy(driver.up(), _pod(live, run_id))
    assert _leftovers(kube, run_id) == []


def test_an_interrupted_apply_keeps_the_namespace_with_keep(
    live: Live, kube: _kube.KubeClient, run_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = DistroSettings(
        run_id=run_id, work_dir=tmp_path, kubeconfig=live.kubeconfig, context=live.context, keep=True
    )
    kept = K8sDistro(settings)
    namespace = _kube.namespace_for(run_id)
    _interrupt_after_apply(monkeypatch)
    try:
        with pytest.raises(KeyboardInterrupt):
            kept.deploy(kept.up(), _pod(live, run_id))
        assert kube.namespace(namespace) is not None
        assert "pods/web" in kube.namespace_contents(namespace)
    finally:
        kube.delete_namespace(namespace, 120)


def test_cluster_scoped_objects_are_refused_and_the_namespace_removed(
    live: Live, kube: _kube.KubeClient, driver: K8sDistro, run_id: str
) -> None:
    objects = [*_pod(live, run_id), {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "escape"}}]
    with pytest.raises(ManifestError, match="Namespace escape is cluster-scoped"):
        driver.deploy(driver.up(), objects)
    assert _leftovers(kube, run_id) == []


def test_invalid_objects_name_the_server_message(
    live: Live, kube: _kube.KubeClient, driver: K8sDistro, run_id: str
) -> None:
    objects = _pod(live, run_id)
    objects[1]["spec"]["containers"][0]["ports"][0]["hostPort"] = 70000
    with pytest.raises(ManifestError) as caught:
        driver.deploy(driver.up(), objects)
    message = str(caught.value)
    assert message.startswith(f"k8s: apply Pod {_kube.namespace_for(run_id)}/web: 422 Unprocessable Entity: ")
    assert "hostPort" in message
    assert "\n" not in message
    assert _leftovers(kube, run_id) == []


def test_reap_removes_namespaces_of_dead_runs_only(kube: _kube.KubeClient, driver: K8sDistro) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    dead_pid = dead.stdout.decode().strip()
    crashed = {**ownership_labels("crashed-run", keep=False), "edgex-smoke/owner-pid": dead_pid}
    kept = {**ownership_labels("kept-run", keep=True), "edgex-smoke/owner-pid": dead_pid}
    alive = ownership_labels("live-run", keep=False)  # this process: alive
    names = {
        labels[RUN_ID]: _kube.namespace_for(f"{labels[RUN_ID]}-{os.getpid()}") for labels in (crashed, kept, alive)
    }
    try:
        for labels in (crashed, kept, alive):
            kube.create_namespace(names[labels[RUN_ID]], labels)
        started = time.monotonic()
        reaped = driver.reap(driver.up())
        assert f"namespace {names['crashed-run']} (run crashed-run)" in reaped
        assert kube.namespace(names["crashed-run"]) is None
        assert kube.namespace(names["kept-run"]) is not None, "a namespace kept on purpose must not be reaped"
        assert kube.namespace(names["live-run"]) is not None, "a live run's namespace must not be reaped"
        print(f"reaped {reaped} in {time.monotonic() - started:.1f} s")
    finally:
        for name in names.values():
            kube.delete_namespace(name, 120)


def test_exec_and_port_forward_reach_the_container(live: Live, driver: K8sDistro, run_id: str) -> None:
    with _deployed(driver, _pod(live, run_id)) as (target, deployment):
        driver.wait_deployed(target, deployment, timeout_s=60)
        kube = driver._workload().kube
        namespace = deployment.namespace
        assert namespace is not None
        assert kube.exec_in(namespace, "web", "web", ["sh", "-c", "echo out; echo err >&2; exit 7"]) == (
            7,
            "out\n",
            "err\n",
        )
        code, _, stderr = kube.exec_in(namespace, "web", "web", ["no-such-binary"])
        assert code == 127
        assert "no-such-binary" in stderr
        with kube.port_forward(namespace, "web", 8080) as local_port:
            for _ in range(3):  # one stream per connection
                with urllib.request.urlopen(f"http://127.0.0.1:{local_port}/hello.txt", timeout=10) as answer:
                    assert answer.read() == b"hello from the configmap\n"


def _with_gateway_port(live: Live, driver: K8sDistro, run_id: str, port: int) -> K8sDistro:
    """A driver like `driver` whose gateway HTTP port is `port` (the small pod's)."""
    settings = DistroSettings(
        run_id=run_id,
        work_dir=driver.settings.work_dir,
        kubeconfig=live.kubeconfig,
        context=live.context,
        gateway_http_port=port,
    )
    return K8sDistro(settings)


def test_endpoints_expose_host_ports_and_pod_ip(live: Live, driver: K8sDistro, run_id: str) -> None:
    objects = _pod(live, run_id)
    port = objects[1]["spec"]["containers"][0]["ports"][0]["hostPort"]
    distro = _with_gateway_port(live, driver, run_id, port)
    with _deployed(distro, objects) as (target, deployment):
        distro.wait_deployed(target, deployment, timeout_s=60)
        endpoints = distro.endpoints(target, deployment)
        assert endpoints.published_ports == (port,)
        assert endpoints.gateway_url.endswith(f":{port}")
        assert endpoints.pod_ip
        with urllib.request.urlopen(f"{endpoints.gateway_url}/hello.txt", timeout=10) as answer:
            assert answer.read() == b"hello from the configmap\n"
        digests = distro.image_digests([live.image])
        assert (digests[live.image] or "").startswith("sha256:")
        # Check c's addresses: the node first, then the pod (the node is this host, so it vouches for both).
        node, pod = endpoints.client_addresses[:2]
        assert (node.role, node.gateway_port, node.vouched) == ("node IP", port, True)
        assert (pod.role, pod.address, pod.vouched) == ("pod IP", endpoints.pod_ip, True)
        assert {(c.role, c.vouched) for c in endpoints.client_addresses[2:]} <= {("host", False)}


def test_endpoints_under_host_network_have_no_pod_address_and_leave_the_node_loopback_out(
    live: Live, driver: K8sDistro, run_id: str
) -> None:
    port = _servers.free_port()
    objects = _pod(live, run_id, hostNetwork=True)
    objects[0]["data"]["nginx.conf"] = objects[0]["data"]["nginx.conf"].replace("listen 8080", f"listen {port}")
    objects[1]["spec"]["containers"][0]["ports"] = [{"name": "http", "containerPort": port, "hostPort": port}]
    distro = _with_gateway_port(live, driver, run_id, port)
    with _deployed(distro, objects) as (target, deployment):
        distro.wait_deployed(target, deployment, timeout_s=60)
        endpoints = distro.endpoints(target, deployment)
        assert endpoints.pod_ip is None  # the pod's address is the node's
        roles = [(c.role, c.address) for c in endpoints.client_addresses]
        assert roles[0][0] == "node IP"
        assert endpoints.gateway_url == f"http://{roles[0][1]}:{port}"
        assert "pod IP" not in {role for role, _ in roles}
        assert "127.0.0.1" not in {address for _, address in roles}
        with urllib.request.urlopen(f"{endpoints.gateway_url}/hello.txt", timeout=10) as answer:
            assert answer.read() == b"hello from the configmap\n"


def test_endpoints_fall_back_to_port_forwarding_when_the_node_is_not_routable(
    live: Live, driver: K8sDistro, run_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = _pod(live, run_id)
    port = objects[1]["spec"]["containers"][0]["ports"][0]["hostPort"]
    lines: list[str] = []
    distro = K8sDistro(
        DistroSettings(
            run_id=run_id,
            work_dir=driver.settings.work_dir,
            kubeconfig=live.kubeconfig,
            context=live.context,
            gateway_http_port=port,
            progress=lines.append,
        )
    )
    monkeypatch.setattr("distros._host.accepts", lambda host, port: False)
    with _deployed(distro, objects) as (target, deployment):
        distro.wait_deployed(target, deployment, timeout_s=60)
        endpoints = distro.endpoints(target, deployment)
        assert endpoints.gateway_url == f"http://127.0.0.1:{endpoints.gateway_port}"
        assert endpoints.gateway_port != port
        assert endpoints.published_ports == (endpoints.gateway_port,)
        assert endpoints.pod_ip is None
        with urllib.request.urlopen(f"{endpoints.gateway_url}/hello.txt", timeout=10) as answer:
            assert answer.read() == b"hello from the configmap\n"
    assert any(line.startswith("node address ") and "port-forwarding instead" in line for line in lines)
    assert any(line.startswith("waiting for 0/1 containers ready (") for line in lines), lines
    with pytest.raises(OSError):  # undeploy closed the forward
        urllib.request.urlopen(f"{endpoints.gateway_url}/hello.txt", timeout=5)


def test_preflight_finds_the_gateway_port_taken_by_a_pod(live: Live, driver: K8sDistro, run_id: str) -> None:
    objects = _pod(live, run_id)
    port = objects[1]["spec"]["containers"][0]["ports"][0]["hostPort"]
    with _deployed(driver, objects) as (target, deployment):
        driver.wait_deployed(target, deployment, timeout_s=60)
        other = K8sDistro(
            DistroSettings(
                run_id="other",
                work_dir=driver.settings.work_dir,
                kubeconfig=live.kubeconfig,
                context=live.context,
                gateway_http_port=port,
            )
        )
        with pytest.raises(PreflightError) as caught:
            other.preflight([])
        # the pod is ours, from a run that is still alive (this test): the line names that run
        assert str(caught.value).startswith(
            f"k8s: host port {port} is held by another edgex-smoke run, web (run {run_id}, "
            f"in {deployment.namespace}, still running as pid {os.getpid()}); wait for it to end"
        )


def _end_owner(live: Live, namespace: str) -> None:
    """Make `namespace` look kept by a run that has ended: its owner pid label names a process that exited."""
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    api = kubernetes.config.new_client_from_config(config_file=str(live.kubeconfig), context=live.context)
    with api:
        body = {"metadata": {"labels": {OWNER_PID: ended.stdout.decode().strip()}}}
        kubernetes.client.CoreV1Api(api).patch_namespace(namespace, body)


def test_find_deployment_attaches_to_a_kept_run(live: Live, kube: _kube.KubeClient, driver: K8sDistro) -> None:
    kept_run = f"kept-{os.getpid()}"
    keeper = K8sDistro(
        DistroSettings(run_id=kept_run, work_dir=driver.settings.work_dir, kubeconfig=live.kubeconfig, keep=True)
    )
    target = keeper.up()
    objects = with_labels(
        small_pod(live.image, name="edgex", host_port=_servers.free_port(), run_id=kept_run),
        ownership_labels(kept_run, keep=True),
    )
    kept = keeper.deploy(target, objects)
    try:
        keeper.wait_deployed(target, kept, timeout_s=60)
        with pytest.raises(PreflightError, match=r"will not attach to edgex .*still running as pid .*has not ended"):
            driver.find_deployment(driver.up())  # the keeper (this process) is alive: its run has not ended
        _end_owner(live, kept.namespace or "")
        found = driver.find_deployment(driver.up())
        assert found.created is False
        assert found.namespace is not None
        assert found.namespace.startswith("edgex-smoke-")
        driver.undeploy(target, found)  # not created by this run: must delete nothing
        assert kube.namespace(kept.namespace or "") is not None
    finally:
        kube.delete_namespace(kept.namespace or "", 120)


def test_fingerprint_of_the_lab_cluster(live: Live, driver: K8sDistro) -> None:
    if not live.lab:
        pytest.skip("describes the lab cluster only")
    facts = driver.fingerprint(driver.up()).facts
    assert facts["kubernetes_version"] == "v1.34.4"
    assert str(facts["container_runtime"]).startswith("containerd://")
    assert facts["provision"] == "attach"
    print(json.dumps(dict(facts)))


def test_local_fingerprint_names_the_lab_network(live: Live, tmp_path: Path) -> None:
    if not live.lab:
        pytest.skip("describes the lab cluster only")
    distro = K8sDistro(DistroSettings(run_id="local", work_dir=tmp_path, provision="local"))
    facts = distro.fingerprint(distro.up()).facts
    assert facts["provision"] == "local"
    assert facts["kubernetes_version"] == "v1.34.4"
    assert str(facts["container_runtime"]).startswith("containerd://")
    assert str(facts["cni"]).startswith("bridge")
    assert facts["kube_proxy"] == "none (lab cluster)"


def test_local_provisioning_attaches_to_the_running_lab_cluster_and_never_stops_it(live: Live, tmp_path: Path) -> None:
    if not live.lab:
        pytest.skip("needs the lab cluster")
    from lab.cluster import api  # noqa: PLC0415

    distro = K8sDistro(DistroSettings(run_id="local", work_dir=tmp_path, provision="local"))
    distro.preflight([])
    first = distro.up()
    second = distro.up()
    assert (first.mode, first.created, second.created) == ("provisioned", False, False)
    distro.load_images(first, [live.image])
    with pytest.raises(PreflightError, match="neither in podman storage nor pullable: localhost/edgex-smoke-test/ab"):
        distro.load_images(first, ["localhost/edgex-smoke-test/absent:0"])
    distro.down(first)
    assert api.status() is not None, "down() must not stop a lab cluster this run did not start"


def test_diagnostics_of_a_vanished_namespace_do_not_raise(driver: K8sDistro, tmp_path: Path) -> None:
    target = driver.up()
    ghost = Deployment(pod="edgex", run_id="ghost", created=True, namespace="edgex-smoke-ghost-never-made")
    saved = driver.collect_diagnostics(target, ghost, tmp_path / "diag")
    names = {p.name for p in saved}
    assert {"events.txt", "pod-edgex.yaml", "nodes.yaml"} <= names
    assert "not found" in (tmp_path / "diag" / "pod-edgex.yaml").read_text()


def test_wait_on_a_missing_pod_times_out_saying_so(driver: K8sDistro) -> None:
    target = driver.up()
    ghost = Deployment(pod="edgex", run_id="ghost", created=True, namespace="edgex-smoke-ghost-never-made")
    with pytest.raises(ReadinessTimeoutError, match="not ready after 2 s: the pod does not exist"):
        driver.wait_deployed(target, ghost, timeout_s=2)
    with pytest.raises(InfraError, match="does not exist"):
        driver.containers(target, ghost)
