"""Start, attach to and stop the lab cluster: a real single-node Kubernetes built from Go modules.

etcd (Debian) → kube-apiserver → kube-controller-manager + kube-scheduler, and containerd (Debian) → kubelet, each a
background process with its log in ``<state>/logs`` and its PID in ``<state>/pids``. The node's pod network is a
CNI bridge with portmap, so hostPorts answer on the node IP. There is no kube-proxy (no ClusterIP traffic) and no
cluster DNS.

`up` is idempotent (it attaches to a running cluster), bounded (every wait has a deadline) and cleans up after
itself when a start fails, keeping only the logs that its error names. `down` stops exactly the recorded PIDs in
reverse order, after asking the kubelet to stop every pod so that CNI releases addresses and hostPort rules.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distros import _sideload, local_cluster
from harness.errors import InfraError, ReadinessTimeoutError
from lab.cluster import (
    build,
    cleanup,
    cni,
    containerd,
    controlplane,
    etcd,
    health,
    host,
    kube,
    kubeconfig,
    kubelet,
    layout,
    pause,
    pki,
    processes,
    wait,
)
from lab.cluster.layout import Layout

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

COMPONENTS = ("etcd", "containerd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet")
"""Start order; `down` stops them in reverse."""

BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet")
IDENTITIES = {
    "admin": ("admin", "edgex-smoke-admin"),
    "controller-manager": ("controller-manager", "system:kube-controller-manager"),
    "scheduler": ("scheduler", "system:kube-scheduler"),
    "kubelet": ("kubelet-client", "system:node:{node}"),
}
"""Kubeconfig name → (certificate name, user name)."""

LOCK_POLL_S = 0.2
"""Between two attempts at the state lock: another up or down holds it for seconds to minutes."""

POD_STOP_TIMEOUT_S = 30.0
"""How long `down` lets the kubelet stop pods (and run CNI DEL) before it kills what is left."""

PROCESS_STOP_TIMEOUT_S = 20.0
CTR_CLEANUP_TIMEOUT_S = 30.0
PAUSE_IMPORT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class LocalCluster:
    """A running lab cluster."""

    kubeconfig: Path
    """Admin kubeconfig (0600)."""
    state_dir: Path
    """``~/.cache/edgex-smoke/cluster/state`` (or ``$EDGEX_SMOKE_CLUSTER_STATE``)."""
    node_name: str
    node_ip: str
    """The address from which the host reaches hostPorts."""
    version: str
    """The Kubernetes version, e.g. ``v1.34.4``."""
    created: bool
    """True if this call started the cluster; False if it was already running."""

    def network_facts(self) -> dict[str, str]:
        """Report facts the API server cannot show: the CNI, and that there is no kube-proxy or cluster DNS."""
        return {"cni": cni.DESCRIPTION, "kube_proxy": "none (lab cluster)", "cluster_dns": "none (lab cluster)"}

    def descriptor(self) -> local_cluster.LocalCluster:
        """What ``pytest --distro k8s --provision local`` needs to know of this cluster (`distros.local_cluster`)."""
        state = Layout(self.state_dir)
        return local_cluster.LocalCluster(
            kubeconfig=self.kubeconfig,
            node_name=self.node_name,
            containerd_address=state.containerd_socket,
            containerd_namespace=layout.CONTAINERD_NAMESPACE,
            facts=self.network_facts(),
        )


# --------------------------------------------------------------------------- bookkeeping


def binaries_dir() -> Path:
    """Return the directory of the Kubernetes binaries built by ``lab/cluster/build.py``."""
    return build.Paths.default(build.KUBERNETES.label, layout.VERSION).bindir


def _missing_binaries(bindir: Path) -> list[str]:
    return [name for name in BINARIES if not (bindir / name).is_file()]


def ensure_binaries(progress: Progress = print) -> Path:
    """Return the binaries' directory, building them from Go modules first if any is missing (6-8 min cold)."""
    bindir = binaries_dir()
    missing = _missing_binaries(bindir)
    if not missing:
        return bindir
    progress(
        f"lab-cluster: building {', '.join(missing)} {layout.VERSION} from Go modules (about 6-8 min cold on 2 cores)"
    )
    started = time.monotonic()
    targets = build.select_targets(build.KUBERNETES, ",".join(BINARIES), with_proxy=False, kubelet_static=False)
    report = build.run(build.KUBERNETES, layout.VERSION, targets, cold=False, build_binaries=True)
    still = _missing_binaries(bindir)
    if report.version != layout.VERSION or still:
        raise InfraError(
            f"lab-cluster build: wanted {', '.join(BINARIES)} {layout.VERSION} in {bindir}, got version "
            f"{report.version or '?'} and still missing {', '.join(still) or 'nothing'}; "
            f"see {build.Paths.default(build.KUBERNETES.label, layout.VERSION).logs}"
        )
    progress(f"lab-cluster: binaries built ({time.monotonic() - started:.0f} s)")
    return bindir


def _read_meta(state: Layout) -> dict[str, Any] | None:
    try:
        meta = json.loads(state.meta.read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _cluster(state: Layout, meta: dict[str, Any], *, created: bool) -> LocalCluster:
    return LocalCluster(
        kubeconfig=state.admin_kubeconfig,
        state_dir=state.root,
        node_name=str(meta["node_name"]),
        node_ip=str(meta["node_ip"]),
        version=str(meta["version"]),
        created=created,
    )


@contextlib.contextmanager
def _locked(state: Layout, timeout_s: float) -> Iterator[None]:
    """Hold ``<state>.lock`` so that concurrent `up`/`down` calls take turns."""
    state.root.parent.mkdir(parents=True, exist_ok=True)
    lock_path = state.root.with_name(state.root.name + ".lock")
    with lock_path.open("a") as lock:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ReadinessTimeoutError(
                        f"lab-cluster: another up/down held {lock_path} for {timeout_s:.0f} s; wait for it to "
                        "finish or stop it"
                    ) from None
                time.sleep(LOCK_POLL_S)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- status


def _running(state: Layout) -> LocalCluster | None:
    """Return the cluster of `state` if its facts file exists and every recorded process runs."""
    meta = _read_meta(state)
    if meta is None or any(processes.alive(state, c) is None for c in COMPONENTS):
        return None
    return _cluster(state, meta, created=False)


def _status(state: Layout) -> LocalCluster | None:
    running = _running(state)
    return running if running is not None and health.apiserver_ready(pki.Pki(state.pki)) else None


def status() -> LocalCluster | None:
    """Return the running lab cluster, or None unless every component runs and the apiserver is ready."""
    return _status(Layout.default())


# --------------------------------------------------------------------------- up


class _Starter:
    """One cold start: the steps of `up`, sharing the state layout, PKI, deadline and progress output."""

    def __init__(self, state: Layout, bindir: Path, deadline: float, progress: Progress) -> None:
        self.state, self.bindir, self.deadline, self.progress = state, bindir, deadline, progress
        self.started = time.monotonic()
        self.node_name = host.node_name()
        self.node_ip = host.node_ip()
        self.pki = pki.Pki(state.pki)

    def _start(self, component: str, argv: Sequence[str | Path]) -> float:
        processes.start(self.state, component, argv)
        return time.monotonic()

    def _await(
        self, component: str, what: str, ready: Callable[[], bool], since: float, *, alive: str | None = None
    ) -> None:
        processes.await_ready(self.state, component, what, ready, deadline=self.deadline, watched=alive)
        self.progress(f"lab-cluster: {component} {what} ({time.monotonic() - since:.1f} s)")

    def prepare(self) -> Path:
        """Write certificates, kubeconfigs, configs and the facts file; build the pause archive."""
        state = self.state
        for directory in (state.root, state.logs, state.pids, state.images):
            directory.mkdir(parents=True, exist_ok=True)
        pki.ensure(state.pki, self.node_name, self.node_ip)
        server = f"https://127.0.0.1:{layout.APISERVER_PORT}"
        for config_name, (cert, user) in IDENTITIES.items():
            kubeconfig.write(
                controlplane.kubeconfig(state, config_name),
                kubeconfig.render(
                    server=server,
                    ca=self.pki.ca,
                    cert=self.pki.cert(cert),
                    key=self.pki.key(cert),
                    user=user.format(node=self.node_name),
                ),
            )
        containerd.write_config(state)
        kubelet.write_config(state, self.pki)
        archive = pause.ensure_archive()
        state.meta.write_text(
            json.dumps(
                {
                    "node_name": self.node_name,
                    "node_ip": self.node_ip,
                    "version": layout.VERSION,
                    "bindir": str(self.bindir),
                },
                indent=2,
            )
            + "\n"
        )
        self.progress(f"lab-cluster: certificates, configs and pause image ready ({self.elapsed():.1f} s)")
        return archive

    def elapsed(self) -> float:
        """Return the seconds since this start began."""
        return time.monotonic() - self.started

    def run(self) -> None:
        """Start every component in order and wait until the node is Ready."""
        state, bindir = self.state, self.bindir
        archive = self.prepare()
        etcd_at = self._start("etcd", etcd.argv(state))
        containerd_at = self._start("containerd", containerd.argv(state))
        self._await("etcd", "healthy", etcd.healthy, etcd_at)
        api_at = self._start("kube-apiserver", controlplane.apiserver_argv(bindir, state, self.pki, self.node_ip))
        self._await("containerd", "serving", lambda: containerd.serving(state), containerd_at)
        import_at = time.monotonic()
        containerd.import_archive(state, archive, timeout_s=min(PAUSE_IMPORT_TIMEOUT_S, self._left()))
        self.progress(f"lab-cluster: pause image imported ({time.monotonic() - import_at:.1f} s)")
        self._await("kube-apiserver", "ready", lambda: health.apiserver_ready(self.pki), api_at)
        cm_at = self._start("kube-controller-manager", controlplane.controller_manager_argv(bindir, state, self.pki))
        sched_at = self._start("kube-scheduler", controlplane.scheduler_argv(bindir, state, self.pki))
        kubelet_at = self._start("kubelet", kubelet.argv(bindir, state, self.node_name, self.node_ip))
        self._await("kube-controller-manager", "healthy", lambda: health.controller_manager_healthy(self.pki), cm_at)
        self._await("kube-scheduler", "healthy", lambda: health.scheduler_healthy(self.pki), sched_at)
        self._await("kubelet", "healthy", health.kubelet_healthy, kubelet_at)
        with kube.api(state.admin_kubeconfig) as core:
            self._node(core, kubelet_at, cm_at)

    def _node(self, core: Any, kubelet_at: float, cm_at: float) -> None:
        """Configure the pod network once the node has a pod CIDR; wait until it is Ready and pods can be made."""
        cidr: list[str] = []

        def allocated() -> bool:
            found = kube.node_pod_cidr(core, self.node_name)
            if found:
                cidr.append(found)
            return bool(found)

        self._await("kubelet", f"node {self.node_name} registered with a pod CIDR", allocated, kubelet_at)
        cni.write(self.state, cidr[0])
        self.progress(f"lab-cluster: cni bridge {layout.BRIDGE} on {cidr[0]} configured")
        self._await(
            "kubelet", f"node {self.node_name} Ready", lambda: kube.node_ready(core, self.node_name), kubelet_at
        )
        self._await(
            "kube-controller-manager",
            "created ServiceAccount default/default",
            lambda: kube.default_service_account(core),
            cm_at,
        )

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ReadinessTimeoutError(
                f"lab-cluster: start ran out of time after {self.elapsed():.0f} s; see {self.state.logs} "
                "(raise timeout_s on slow hosts)"
            )
        return left


def up(*, timeout_s: float = 600.0, progress: Progress = print) -> LocalCluster:
    """Start the lab cluster and wait until its node is Ready; attach if it is already running.

    Building missing binaries (``lab/cluster/build.py``) comes first and is not counted in `timeout_s`.

    Args:
        timeout_s: Deadline for starting every component and the node becoming Ready.
        progress: Receives one line per step, e.g. ``lab-cluster: kube-apiserver ready (4.2 s)``.

    Raises:
        PreflightError: Not root, a tool or CNI plugin is missing, or a port is taken.
        InfraError: A component exited or failed; the message names its log file.
        ReadinessTimeoutError: A component was not ready in time.
    """
    state = Layout.default()
    with _locked(state, timeout_s):
        running = _running(state)
        if running is not None:
            # Every process runs: a slow /readyz (a busy host) is no reason to restart a cluster others use.
            wait.until(
                lambda: health.apiserver_ready(pki.Pki(state.pki)),
                component="kube-apiserver",
                what="ready",
                log_path=state.log("kube-apiserver"),
                deadline=time.monotonic() + timeout_s,
                alive=lambda: processes.alive(state, "kube-apiserver") is not None,
            )
            with kube.api(state.admin_kubeconfig) as core:
                wait.until(
                    lambda: kube.node_ready(core, running.node_name),
                    component="kubelet",
                    what=f"node {running.node_name} Ready",
                    log_path=state.log("kubelet"),
                    deadline=time.monotonic() + timeout_s,
                    alive=lambda: processes.alive(state, "kubelet") is not None,
                )
            running.descriptor().write(state.descriptor)
            progress(f"lab-cluster: already running ({running.version}, node {running.node_name}); attached")
            return running
        if state.root.exists():
            progress(f"lab-cluster: removing the remains of a stopped or broken cluster in {state.root}")
            _down(state, progress, keep_logs=False)
        state.check()
        host.check()
        bindir = ensure_binaries(progress)
        deadline = time.monotonic() + timeout_s
        starter = _Starter(state, bindir, deadline, progress)
        try:
            starter.run()
        except BaseException:
            progress("lab-cluster: start failed; stopping what was started (logs kept)")
            with contextlib.suppress(Exception):
                _down(state, progress, keep_logs=True)
            raise
        meta = _read_meta(state)
        assert meta is not None  # written by prepare()
        cluster = _cluster(state, meta, created=True)
        cluster.descriptor().write(state.descriptor)
        progress(f"lab-cluster: up in {starter.elapsed():.1f} s; kubeconfig {state.admin_kubeconfig}")
        return cluster


# --------------------------------------------------------------------------- down


def _stop_pods(state: Layout, progress: Progress) -> None:
    """Delete every pod; wait until containerd runs no task and CNI DEL ran for every sandbox of ours.

    containerd stops a sandbox's task before it tears its network down, so "no task" alone is not enough.
    """
    try:
        with kube.api(state.admin_kubeconfig) as core:
            count = kube.delete_all_pods(core)
    except Exception as err:  # down must go on: the forced path below cleans up
        progress(f"lab-cluster: could not delete pods through the API ({err}); killing containers instead")
        return
    started = time.monotonic()
    with contextlib.suppress(ReadinessTimeoutError, InfraError):
        wait.until(
            lambda: not containerd.tasks(state) and not cni.cached_results(cni.sandbox_ids(state)),
            component="kubelet",
            what=f"{count} pod(s) stopped",
            log_path=state.log("kubelet"),
            deadline=started + POD_STOP_TIMEOUT_S,
            alive=lambda: processes.alive(state, "kubelet") is not None,
        )
        if count:
            progress(f"lab-cluster: {count} pod(s) stopped ({time.monotonic() - started:.1f} s)")


def _stop(state: Layout, component: str, progress: Progress) -> None:
    started = time.monotonic()
    if processes.stop(state, component, timeout_s=PROCESS_STOP_TIMEOUT_S):
        progress(f"lab-cluster: {component} stopped ({time.monotonic() - started:.1f} s)")


GUEST_ORDER = ("edgecore", "edge-containerd", "cloudcore")
"""The lab KubeEdge's daemons (`lab.kubeedge.api`), in stop order; any other guest stops after them."""


def _guests(state: Layout) -> list[str]:
    """Components recorded in the state directory that are not the cluster's own, in stop order."""
    recorded = sorted(path.stem for path in state.pids.glob("*.pid")) if state.pids.is_dir() else []
    guests = [name for name in recorded if name not in COMPONENTS]
    return sorted(guests, key=lambda name: GUEST_ORDER.index(name) if name in GUEST_ORDER else len(GUEST_ORDER))


def _stop_processes(state: Layout, progress: Progress) -> list[str]:
    """Stop pods, then the recorded daemons in reverse start order; return the ones that would not stop.

    The controller-manager and the scheduler go first, so that nothing recreates or places the pods being deleted.
    Daemons that other lab tools recorded in this state directory (the lab KubeEdge's edgecore, its containerd and
    cloudcore) go before them: they depend on the cluster, never the other way round.
    """
    sandboxes = cni.sandbox_ids(state)
    for component in _guests(state):
        _stop(state, component, progress)
    for component in ("kube-scheduler", "kube-controller-manager"):
        _stop(state, component, progress)
    if all(processes.alive(state, c) is not None for c in ("kube-apiserver", "kubelet", "containerd")):
        _stop_pods(state, progress)
    _stop(state, "kubelet", progress)
    if processes.alive(state, "containerd") is not None:
        forced = containerd.force_remove_all(state, timeout_s=CTR_CLEANUP_TIMEOUT_S)
        if forced:
            progress(f"lab-cluster: removed {len(forced)} leftover container(s) and task(s)")
    with contextlib.suppress(InfraError):
        if removed := cni.remove_leftover_rules(sandboxes):
            progress(f"lab-cluster: removed {removed} leftover iptables rule(s) of {layout.CNI_NETWORK}")
    for component in ("kube-apiserver", "containerd", "etcd"):
        _stop(state, component, progress)
    return [
        f"{component} (pid {pid}) did not stop"
        for component in COMPONENTS
        if (pid := processes.alive(state, component)) is not None
    ]


def _remove_state(state: Layout, *, keep_logs: bool) -> None:
    if not keep_logs:
        shutil.rmtree(state.root)
        return
    for entry in state.root.iterdir():
        if entry == state.logs:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _down(state: Layout, progress: Progress, *, keep_logs: bool) -> None:
    """Stop everything recorded in `state` and remove it (all but ``logs/`` when `keep_logs`)."""
    if not state.root.exists():
        return
    state.descriptor.unlink(missing_ok=True)  # from here on, smoke runs find no local cluster
    state.meta.unlink(missing_ok=True)  # and status() says "not running"
    problems = _stop_processes(state, progress)
    if shims := cleanup.kill_shims(state):
        progress(f"lab-cluster: killed {len(shims)} leftover containerd shim(s)")
    problems += [f"cannot unmount {m}" for m in cleanup.unmount_all(state.root)]
    cleanup.remove_container_log_links(state.root)
    if not host.port_in_use(layout.KUBELET_PORT):
        # The bridge, the kubepods cgroups and /var/lib/kubelet are per host: leave them to any other kubelet.
        cleanup.delete_bridge()
        cleanup.remove_pod_cgroups()
        cleanup.remove_kubelet_leftovers()
    if problems:
        raise InfraError(
            f"lab-cluster down: {'; '.join(problems)}; state kept in {state.root}; stop them by PID and run "
            "`python -m lab.cluster down` again"
        )
    _remove_state(state, keep_logs=keep_logs)


def down(*, progress: Progress | None = None) -> None:
    """Stop the lab cluster: its pods, then exactly the recorded PIDs in reverse order; remove the state directory.

    Safe to call twice and when nothing runs.
    """
    state = Layout.default()
    report: Progress = progress or log.info
    with _locked(state, PROCESS_STOP_TIMEOUT_S * 10):
        existed = state.root.exists()
        _down(state, report, keep_logs=False)
    if existed:
        report(f"lab-cluster: down; removed {state.root}")


# --------------------------------------------------------------------------- images


def load_images(refs: Sequence[str], *, progress: Progress | None = None) -> list[str]:
    """Side-load `refs` from local podman storage into the running cluster's containerd; return what was imported.

    The same code a smoke run uses (`distros._sideload.side_load`): an image the node already holds
    from the same podman image is skipped.

    Raises:
        InfraError: The cluster is not running.
        PreflightError: An image is neither in podman storage nor on the node.
    """
    state = Layout.default()
    cluster = status()
    if cluster is None or processes.alive(state, "containerd") is None or not containerd.serving(state):
        raise InfraError(
            f"lab-cluster load_images: the lab cluster is not running (state {state.root}); "
            "start it with `python -m lab.cluster up`"
        )
    descriptor = cluster.descriptor()
    runtime = _sideload.NodeRuntime(
        ctr=("ctr", "--address", str(descriptor.containerd_address)), namespace=descriptor.containerd_namespace
    )
    return _sideload.side_load(
        refs, runtime, subject="lab-cluster", work_dir=state.root / "images", progress=progress or log.info
    )
