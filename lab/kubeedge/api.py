"""Run KubeEdge on the lab cluster: cloudcore against its API server, and this host as an edge node.

``up`` needs the lab cluster running (``python -m lab.cluster up``). It builds cloudcore and edgecore if
they are missing (``lab/cluster/build.py kubeedge``, 8-12 min cold on 2 cores), applies KubeEdge's CRDs
from its module, starts cloudcore, reads the join token cloudcore made, starts the edge node's own
containerd (a second instance: its own root, state, socket and pod network), imports the pause image
there, and starts edgecore, then waits until the edge node is Ready. ``down`` stops the three processes
it recorded, deletes the edge node object and removes the state; the lab cluster keeps running.

The processes are recorded like the lab cluster's (``<cluster state>/pids``), as ``cloudcore``,
``edge-containerd`` and ``edgecore``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config

from distros import local_cluster
from harness import proc, reach
from harness.errors import InfraError, PreflightError
from lab import toolchain
from lab.cluster import api as cluster_api
from lab.cluster import build, cleanup, cni, containerd, pause, processes
from lab.kubeedge import config as edge_config
from lab.kubeedge import host_ports, layout
from lab.kubeedge.layout import Layout

Progress = Callable[[str], None]

BINARIES = ("cloudcore", "edgecore")
COMPONENTS = ("cloudcore", "edge-containerd", "edgecore")
"""In start order; stopped in reverse."""
TOKEN_SECRET = "tokensecret"  # noqa: S105 - the name of the Secret cloudcore keeps the token in
EDGECORE_ENV = {"CHECK_EDGECORE_ENVIRONMENT": "false"}
"""edgecore refuses to start next to a kube-proxy process; the lab cluster runs none, but a host may."""
REQUEST_TIMEOUT_S = 10.0
PAUSE_IMPORT_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class EdgeNode:
    """A running lab KubeEdge: the edge node, where its runtime listens, and the versions."""

    node_name: str
    node_ip: str
    kubeconfig: Path
    runtime_socket: Path
    logs: Path
    pod_logs: Path
    version: str = layout.VERSION

    def descriptor(self) -> local_cluster.LocalCluster:
        """The seam to smoke runs: ``--distro kubeedge --provision local`` reads it (`distros.local_cluster`)."""
        return local_cluster.LocalCluster(
            kubeconfig=self.kubeconfig,
            node_name=self.node_name,
            containerd_address=self.runtime_socket,
            facts={
                "kubeedge_version": self.version,
                "cloudcore_version": self.version,
                "edgecore_version": self.version,
                "edge_runtime": "containerd (a second instance of the host's, for the edge node only)",
                "kubeedge_provision": "lab (cloudcore and edgecore built from the kubeedge module)",
                "edgecore_log": str(self.logs / "edgecore.log"),
                "cloudcore_log": str(self.logs / "cloudcore.log"),
                "pod_logs_dir": str(self.pod_logs),
            },
        )

    def to_json(self) -> dict[str, str]:
        """The facts file written while it runs."""
        return {
            "node_name": self.node_name,
            "node_ip": self.node_ip,
            "kubeconfig": str(self.kubeconfig),
            "runtime_socket": str(self.runtime_socket),
            "kubeedge_version": self.version,
        }


def binaries_dir() -> Path:
    """The directory of cloudcore and edgecore, built by ``lab/cluster/build.py kubeedge``."""
    return build.Paths.default(build.KUBEEDGE.label, layout.VERSION).bindir


def ensure_binaries(progress: Progress) -> Path:
    """Return the binaries' directory, building cloudcore and edgecore first if one is missing."""
    bindir = binaries_dir()
    missing = [name for name in BINARIES if not (bindir / name).is_file()]
    if not missing:
        return bindir
    progress(f"lab-kubeedge: building {', '.join(missing)} {layout.VERSION} from Go modules (8-12 min cold)")
    started = time.monotonic()
    build.run(build.KUBEEDGE, layout.VERSION, list(build.KUBEEDGE.targets), cold=False, build_binaries=True)
    still = [name for name in BINARIES if not (bindir / name).is_file()]
    if still:
        raise InfraError(
            f"lab-kubeedge build: {', '.join(still)} still missing in {bindir}; "
            f"see {build.Paths.default(build.KUBEEDGE.label, layout.VERSION).logs}"
        )
    progress(f"lab-kubeedge: binaries built ({time.monotonic() - started:.0f} s)")
    return bindir


def crd_files() -> list[Path]:
    """KubeEdge's CRDs, as its release module ships them (``build/crds``)."""
    cache = proc.run([toolchain.go(), "env", "GOMODCACHE"], timeout_s=60).stdout.strip()
    root = Path(cache) / f"{build.KUBEEDGE.root}@{layout.VERSION}" / "build" / "crds"
    found = sorted(root.rglob("*.yaml"))
    if not found:
        raise PreflightError(
            f"lab-kubeedge: no CRDs under {root}; download the module first: "
            f"python -m lab.cluster.build kubeedge --no-build"
        )
    return found


@contextlib.contextmanager
def _clients(kubeconfig: Path) -> Iterator[tuple[Any, Any]]:
    api_client = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        yield client.CoreV1Api(api_client), client.ApiextensionsV1Api(api_client)
    finally:
        api_client.close()


def _create(call: Callable[..., Any], *args: Any) -> None:
    """Create an object; one that exists already is fine (``up`` may attach to a half-made start)."""
    try:
        call(*args, _request_timeout=REQUEST_TIMEOUT_S)
    except client.ApiException as err:
        if err.status != 409:
            raise


def _token(core: Any) -> str | None:
    try:
        secret = core.read_namespaced_secret(TOKEN_SECRET, layout.CLOUD_NAMESPACE, _request_timeout=REQUEST_TIMEOUT_S)
    except client.ApiException:
        return None
    data = (secret.data or {}).get("tokendata")
    return base64.b64decode(data).decode() if data else None


def _node_ready(core: Any, name: str) -> bool:
    try:
        node = core.read_node(name, _request_timeout=REQUEST_TIMEOUT_S)
    except client.ApiException:
        return False
    conditions = (node.status.conditions or []) if node.status else []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def edge_node_name(cluster_node: str) -> str:
    """The edge node's name: the lab node's with ``-edge``, so the two nodes of one host never clash."""
    return f"{cluster_node}-edge"


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as sink:
        sink.write(text)


class _Starter:
    def __init__(self, state: Layout, meta: dict[str, Any], deadline: float, progress: Progress) -> None:
        self.state, self.deadline, self.progress = state, deadline, progress
        self.cluster = state.cluster
        self.node_ip = str(meta["node_ip"])
        self.node_name = edge_node_name(str(meta["node_name"]))
        self.started = time.monotonic()

    def _await(self, component: str, what: str, ready: Callable[[], bool]) -> None:
        waited = processes.await_ready(self.cluster, component, what, ready, deadline=self.deadline)
        self.progress(f"lab-kubeedge: {component} {what} ({waited:.1f} s)")

    def run(self, bindir: Path) -> EdgeNode:
        state, cluster = self.state, self.cluster
        state.root.mkdir(parents=True, exist_ok=True)
        reserved = host_ports.reserve(state.reserved_ports_record)
        if reserved:
            self.progress(f"lab-kubeedge: reserved EdgeX's ports on this edge host: {host_ports.render(reserved)}")
        with _clients(cluster.admin_kubeconfig) as (core, extensions):
            for path in crd_files():
                _create(extensions.create_custom_resource_definition, yaml.safe_load(path.read_text()))
            namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": layout.CLOUD_NAMESPACE}}
            _create(core.create_namespace, namespace)
            self.progress(f"lab-kubeedge: CRDs and namespace {layout.CLOUD_NAMESPACE} ready")
            cloud = edge_config.cloudcore(state, kubeconfig=cluster.admin_kubeconfig, advertise_address=self.node_ip)
            state.cloudcore_config.write_text(yaml.safe_dump(cloud, sort_keys=False))
            processes.start(cluster, "cloudcore", [bindir / "cloudcore", "--config", state.cloudcore_config])
            self._await(
                "cloudcore",
                f"serving on {self.node_ip}:{layout.CLOUDHUB_HTTPS_PORT}",
                lambda: reach.probe(self.node_ip, layout.CLOUDHUB_HTTPS_PORT) is reach.Reach.ACCEPTED,
            )
            self._await("cloudcore", "made the join token", lambda: _token(core) is not None)
            token = _token(core) or ""
            for directory in edge_config.edge_directories(state):
                directory.mkdir(parents=True, exist_ok=True)
            for hierarchy in cleanup.CGROUP_ROOT.iterdir():
                if hierarchy.is_dir() and not hierarchy.is_symlink():
                    (hierarchy / layout.EDGE_CGROUP_ROOT.strip("/")).mkdir(exist_ok=True)
            runtime = state.edge_runtime
            containerd.write_config(runtime)
            cni.write(runtime, edge_config.EDGE_POD_CIDR, bridge=edge_config.EDGE_BRIDGE, network="edgex-smoke-edge")
            processes.start(cluster, "edge-containerd", containerd.argv(runtime))
            self._await("edge-containerd", "serving", lambda: containerd.serving(runtime))
            containerd.import_archive(runtime, pause.ensure_archive(), timeout_s=PAUSE_IMPORT_TIMEOUT_S)
            edge = edge_config.edgecore(state, node_name=self.node_name, cloud_address=self.node_ip, token=token)
            _write_private(state.edgecore_config, yaml.safe_dump(edge, sort_keys=False))
            processes.start(
                cluster, "edgecore", [bindir / "edgecore", "--config", state.edgecore_config], env=EDGECORE_ENV
            )
            self._await("edgecore", f"node {self.node_name} Ready", lambda: _node_ready(core, self.node_name))
        node = EdgeNode(
            self.node_name,
            self.node_ip,
            cluster.admin_kubeconfig,
            runtime.containerd_socket,
            cluster.logs,
            edge_config.pod_logs_dir(state),
        )
        state.meta.write_text(json.dumps(node.to_json(), indent=2) + "\n")
        node.descriptor().write(local_cluster.edge_descriptor_path())
        return node


def status() -> EdgeNode | None:
    """The running lab KubeEdge, or None if one of its processes is not running."""
    state = Layout.default()
    if not state.meta.is_file() or any(processes.alive(state.cluster, c) is None for c in COMPONENTS):
        return None
    facts = json.loads(state.meta.read_text())
    return EdgeNode(
        str(facts["node_name"]),
        str(facts["node_ip"]),
        Path(facts["kubeconfig"]),
        Path(facts["runtime_socket"]),
        state.cluster.logs,
        edge_config.pod_logs_dir(state),
        str(facts["kubeedge_version"]),
    )


def up(*, timeout_s: float = 300.0, progress: Progress = print) -> EdgeNode:
    """Start cloudcore and the edge node on the running lab cluster; attach if they run already.

    Raises:
        PreflightError: The lab cluster is not running.
        InfraError: A process exited; the message names its log.
        ReadinessTimeoutError: A step did not finish in time.
    """
    state = Layout.default()
    cluster = cluster_api.status()
    meta_path = state.cluster.meta
    if cluster is None or not meta_path.is_file():
        raise PreflightError("lab-kubeedge: the lab cluster is not running; start it first: make lab-cluster")
    running = status()
    if running is not None:
        running.descriptor().write(local_cluster.edge_descriptor_path())
        progress(f"lab-kubeedge: already running (edge node {running.node_name}); attached")
        return running
    if any(processes.alive(state.cluster, c) is not None for c in COMPONENTS) or state.root.exists():
        progress("lab-kubeedge: removing the remains of a stopped or broken start")
        down(progress=progress)
    bindir = ensure_binaries(progress)
    starter = _Starter(state, json.loads(meta_path.read_text()), time.monotonic() + timeout_s, progress)
    try:
        node = starter.run(bindir)
    except BaseException:
        progress("lab-kubeedge: start failed; stopping what was started (logs kept)")
        with contextlib.suppress(Exception):
            down(progress=progress)
        raise
    progress(f"lab-kubeedge: up in {time.monotonic() - starter.started:.1f} s; edge node {node.node_name}")
    return node


def down(*, progress: Progress = print) -> None:
    """Stop edgecore, the edge containerd and cloudcore; delete the edge node; remove the state. Never the cluster."""
    state = Layout.default()
    runtime = state.edge_runtime
    local_cluster.edge_descriptor_path().unlink(missing_ok=True)  # from here on, smoke runs find no edge node
    for component in reversed(COMPONENTS):
        if component == "edge-containerd" and containerd.serving(runtime):
            left = containerd.force_remove_all(runtime, timeout_s=STOP_TIMEOUT_S)
            if left:
                progress(f"lab-kubeedge: removed {len(left)} container(s) the edge node left")
        if processes.stop(state.cluster, component, timeout_s=STOP_TIMEOUT_S):
            progress(f"lab-kubeedge: {component} stopped")
    if cluster_api.status() is not None and state.meta.is_file():
        node_name = json.loads(state.meta.read_text())["node_name"]
        with _clients(state.cluster.admin_kubeconfig) as (core, _), contextlib.suppress(client.ApiException):
            core.delete_node(node_name, _request_timeout=REQUEST_TIMEOUT_S)
    host_ports.release(state.reserved_ports_record)
    problems = [f"cannot unmount {m}" for m in cleanup.unmount_all(state.root)] if state.root.exists() else []
    cleanup.remove_pod_cgroups(layout.EDGE_CGROUP_ROOT.strip("/"))
    if problems:
        raise InfraError(f"lab-kubeedge down: {'; '.join(problems)}; state kept in {state.root}")
    if state.root.exists():
        shutil.rmtree(state.root)
