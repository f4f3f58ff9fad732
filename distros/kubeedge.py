"""kubeedge: EdgeX on a KubeEdge edge node of a host cluster (k3s, microk8s or k8s) given by kubeconfig.

KubeEdge is not a cluster by itself: CloudCore runs in a host cluster, and edge
nodes run edgecore instead of a kubelet. With ``--provision local``, the edge node
running on this host next to a local cluster is used, as its descriptor tells
(`distros.local_cluster`; in this repository, the lab KubeEdge: ``python -m lab.kubeedge up``):
its cluster's kubeconfig, the edge node's name and its own containerd, into which
images are side-loaded. Otherwise the host cluster comes from
``--kubeconfig`` (any of the other distros can provide it); then, decided in
`preflight` with nothing created there:
- the host cluster already has a Ready edge node: attach to it, change nothing;
- otherwise, as root with ``keadm`` at the pinned version
  (``EDGEX_SMOKE_KUBEEDGE_VERSION``, default `DEFAULT_VERSION`; ``EDGEX_SMOKE_KEADM``
  names the binary if it is not on PATH), make this host an edge node:
  ``keadm init --advertise-address … --kube-config … --kubeedge-version …`` if
  CloudCore is not installed yet, ``keadm gettoken``, then ``keadm join
  --cloudcore-ipport=IP:10000 --token … --kubeedge-version …``. ``down`` runs
  ``keadm reset edge`` / ``keadm reset cloud`` only for what this run did.

KubeEdge quirks this driver handles:
- Edges must reach CloudCore's ports 10000 (CloudHub) and 10002 (certificates):
  the advertise address defaults to the host cluster's node address
  (``EDGEX_SMOKE_KUBEEDGE_ADVERTISE_ADDRESS`` overrides it) and is probed before
  joining. Root is needed on both sides and versions must match
  (kubeedge/website ``docs/setup/install-with-keadm.md``): keadm's version is checked.
- Edge nodes carry ``node-role.kubernetes.io/edge``, which pods, ConfigMaps and
  Secrets need to be synced to them; the overlay pins the pod with it.
- ClusterIP and NodePort need EdgeMesh on edges (kubeedge/kubeedge#4101, #2807,
  #6538; kubeedge/edgemesh#338): the overlay uses hostNetwork, and the gateway is
  reached on the edge node's address.
- ``keadm join`` installs a host mosquitto by default (``--with-mqtt``), which would
  hold port 1883 that the pod's broker needs under hostNetwork: joins pass
  ``--with-mqtt=false``.
- ``kubectl logs``/``exec`` need CloudStream/EdgeStream (kubeedge/website
  ``docs/advanced/debug.md``): diagnostics fall back to the edgecore journal
  (``journalctl -u edgecore.service``) or its log file, and to the pod's log files
  under ``/var/log/pods`` when the edge is this host.
- A host that is already a kubelet node of the host cluster cannot also run
  edgecore (ports and runtime clash): preflight refuses it.
- edgecore refuses to start while a kube-proxy process runs on its host (install-with-keadm.md), and a
  kind node's kube-proxy on the same machine counts: the edgecore this driver starts gets
  ``CHECK_EDGECORE_ENVIRONMENT=false`` (a systemd drop-in, and keadm's environment without systemd).
- Offline: ``keadm join`` pulls ``kubeedge/installation-package`` and the "Installing
  KubeEdge Offline" page is "tbd..."; stage that image in the edge's containerd
  first. Images are side-loaded into the edge's containerd with ``ctr``.
- The join token is passed on keadm's command line (keadm has no other way); it
  is placed last so error messages, which show the first words, never carry it.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from distros import _cluster, _ctr_exec, _host, _hostcheck, _kube, _sideload, local_cluster
from distros._protocol import Deployment, DistroSettings, Fingerprint, KubeObject, Target
from harness import proc
from harness.errors import InfraError, PreflightError, ReadinessBlockedError, ReadinessTimeoutError, SmokeError

log = logging.getLogger(__name__)

DEFAULT_VERSION = "v1.21.0"
DEFAULT_RUNTIME_ENDPOINT = "unix:///run/containerd/containerd.sock"
CLOUDHUB_PORT = 10000
CERT_PORT = 10002
CLOUD_NAMESPACE = "kubeedge"
CONFIG_DIR = Path("/etc/kubeedge")
EDGECORE_UNIT = "edgecore.service"
EDGECORE_LOGS = (Path("/var/log/kubeedge/edgecore.log"), Path("/etc/kubeedge/kubeedge/edge/edgecore.log"))
KEADM_TIMEOUT_S = 900.0
TOKEN_TIMEOUT_S = 300.0
QUICK_TIMEOUT_S = 60.0
EDGECORE_DROPIN = Path("/etc/systemd/system/edgecore.service.d/10-edgex-smoke.conf")
EDGECORE_ENV = {"CHECK_EDGECORE_ENVIRONMENT": "false"}

EDGE_CHECK_S = 5.0
"""How often a readiness wait looks at the edge node's Ready condition."""
LOG_FACT_SUFFIX = "_log"
"""Descriptor facts ending so are log files of the local edge (edgecore's, cloudcore's), for diagnostics only."""
POD_LOGS_FACT = "pod_logs_dir"
"""The descriptor fact naming where the local edge node keeps pods' log files (``podLogsDir``)."""
ENV_VERSION = "EDGEX_SMOKE_KUBEEDGE_VERSION"
ENV_KEADM = "EDGEX_SMOKE_KEADM"
ENV_ADVERTISE = "EDGEX_SMOKE_KUBEEDGE_ADVERTISE_ADDRESS"
ENV_RUNTIME = "EDGEX_SMOKE_KUBEEDGE_RUNTIME_ENDPOINT"
ENV_CGROUP = "EDGEX_SMOKE_KUBEEDGE_CGROUP_DRIVER"
ENV_NODE = "EDGEX_SMOKE_KUBEEDGE_EDGE_NODE"

Plan = Literal["attach", "join"]
_GIT_VERSION = re.compile(r'GitVersion:"(?P<version>v[^"]+)"')
_EDGE_KUBELET = re.compile(r"kubeedge-(?P<version>v\d[\w.\-+]*)")


def _default_cgroup_driver() -> str:
    return "systemd" if _host.has_systemd() and _host.cgroup_v2_unified() else "cgroupfs"


@dataclass(frozen=True)
class KubeEdgeConfig:
    """How an edge node may be made; from the environment (`from_env`), fixed for the run."""

    version: str = DEFAULT_VERSION
    keadm: str | None = None
    """Path of the keadm binary; None looks for ``keadm`` on PATH."""
    advertise_address: str | None = None
    """Address edges use to reach CloudCore; None takes the host cluster's node address."""
    runtime_endpoint: str = DEFAULT_RUNTIME_ENDPOINT
    cgroup_driver: str = "cgroupfs"
    edge_node: str = "edgex-smoke-edge"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KubeEdgeConfig:
        """Read the ``EDGEX_SMOKE_KUBEEDGE_*`` variables and `ENV_KEADM`."""
        return cls(
            version=_host.env_value(env, ENV_VERSION, DEFAULT_VERSION),
            keadm=env.get(ENV_KEADM, "").strip() or None,
            advertise_address=env.get(ENV_ADVERTISE, "").strip() or None,
            runtime_endpoint=_host.env_value(env, ENV_RUNTIME, DEFAULT_RUNTIME_ENDPOINT),
            cgroup_driver=_host.env_value(env, ENV_CGROUP, _default_cgroup_driver()),
            edge_node=_host.env_value(env, ENV_NODE, _host.label_safe(f"edgex-smoke-{socket.gethostname()}")),
        )


# -- command lines (pure; tests record them) -----------------------------------------------------------------


def init_argv(keadm: str, *, advertise_address: str, kubeconfig: Path, version: str) -> list[str]:
    """Install CloudCore into the host cluster (Helm, namespace ``kubeedge``)."""
    return [
        keadm,
        "init",
        f"--advertise-address={advertise_address}",
        f"--kube-config={kubeconfig}",
        f"--kubeedge-version={version}",
    ]


def gettoken_argv(keadm: str, *, kubeconfig: Path) -> list[str]:
    """Print the token edges join with."""
    return [keadm, "gettoken", f"--kube-config={kubeconfig}"]


def join_argv(
    keadm: str,
    *,
    cloudcore: str,
    token: str,
    version: str,
    node_name: str,
    runtime_endpoint: str,
    cgroup_driver: str,
) -> list[str]:
    """Make this host an edge node; the token goes last (see the module docstring)."""
    return [
        keadm,
        "join",
        f"--cloudcore-ipport={cloudcore}:{CLOUDHUB_PORT}",
        f"--kubeedge-version={version}",
        f"--edgenode-name={node_name}",
        f"--remote-runtime-endpoint={runtime_endpoint}",
        f"--cgroupdriver={cgroup_driver}",
        "--with-mqtt=false",
        f"--token={token}",
    ]


def reset_edge_argv(keadm: str) -> list[str]:
    """Stop edgecore and clean this host's edge state, without a prompt."""
    return [keadm, "reset", "edge", "--force"]


def reset_cloud_argv(keadm: str, *, kubeconfig: Path) -> list[str]:
    """Uninstall CloudCore from the host cluster, without a prompt."""
    return [keadm, "reset", "cloud", f"--kube-config={kubeconfig}", "--force"]


def version_argv(keadm: str) -> list[str]:
    """``keadm version``."""
    return [keadm, "version"]


def parse_keadm_version(text: str) -> str | None:
    """``v1.21.0`` from ``keadm version`` output (``GitVersion:"v1.21.0"``), or None."""
    match = _GIT_VERSION.search(text)
    return match["version"] if match else None


def edgecore_version(kubelet_version: str) -> str | None:
    """The KubeEdge release an edge node reports in its kubelet version (``v1.30.7-kubeedge-v1.21.0``)."""
    match = _EDGE_KUBELET.search(kubelet_version)
    return match["version"] if match else None


def ctr_address(runtime_endpoint: str) -> str:
    """The containerd socket path of a CRI endpoint URL."""
    return runtime_endpoint.removeprefix("unix://")


def node_runtime(runtime_endpoint: str) -> _sideload.NodeRuntime:
    """The edge's containerd, reached with ``ctr`` at its CRI socket."""
    return _sideload.NodeRuntime(ctr=("ctr", "--address", ctr_address(runtime_endpoint)))


def edgecore_dropin() -> str:
    """The systemd drop-in that gives edgecore `EDGECORE_ENV`."""
    lines = "".join(f"Environment={key}={value}\n" for key, value in EDGECORE_ENV.items())
    return f"# Written by edgex-smoke for the edge node it joined; removed by its teardown.\n[Service]\n{lines}"


def edge_node_state(node: KubeObject) -> str:
    """``NotReady (…reason…)`` from the node's Ready condition: why an edge node cannot take pods now."""
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    if ready is None:
        return "NotReady (no Ready condition yet)"
    if ready.get("status") == "True":
        return "Ready"
    detail = ready.get("reason") or ready.get("message") or f"Ready={ready.get('status')}"
    return f"NotReady ({detail})"


def same_version(a: str, b: str) -> bool:
    """True if two KubeEdge versions are equal, with or without the leading ``v``."""
    return a.removeprefix("v") == b.removeprefix("v")


# -- the driver ----------------------------------------------------------------------------------------------


class KubeEdgeDistro(_cluster.ClusterDistro):
    """One EdgeX pod on a KubeEdge edge node (hostNetwork) of a host cluster."""

    name: ClassVar[str] = "kubeedge"

    def __init__(self, settings: DistroSettings, config: KubeEdgeConfig | None = None) -> None:
        super().__init__(settings)
        self.config = config or KubeEdgeConfig.from_env(os.environ)
        self._plan: Plan | None = None
        self._needs_init = False
        self._cloud_installed = False
        self._edge_joined = False
        self._edge_node: str | None = None
        self._dropin_written = False
        self._keadm: str | None = None
        self._local: local_cluster.LocalCluster | None = None

    def _local_edge(self) -> local_cluster.LocalCluster:
        if self._local is None:
            self._local = local_cluster.read(edge=True)
        return self._local

    # -- helpers -----------------------------------------------------------------

    def _host_kubeconfig(self) -> Path:
        if self.settings.provision == "local":
            return self._local_edge().kubeconfig
        if self.settings.kubeconfig is None:
            raise PreflightError(
                "kubeedge: needs a host cluster for CloudCore and none was given; pass --kubeconfig of a k3s, "
                "microk8s or k8s cluster (KubeEdge extends a cluster, it is not one by itself)"
            )
        return self.settings.kubeconfig

    def _connection(self) -> tuple[Path, str | None]:
        if self.settings.provision == "local":
            return self._local_edge().kubeconfig, None
        return self._host_kubeconfig(), self.settings.context

    def _node_runtime(self) -> _sideload.NodeRuntime | None:
        if self.settings.provision == "local":
            edge = self._local_edge()
            return _sideload.NodeRuntime(
                ctr=("ctr", "--address", str(edge.containerd_address)), namespace=edge.containerd_namespace
            )
        if self._edge_is_local() and _host.tool("ctr") is not None:
            return node_runtime(self.config.runtime_endpoint)
        return None

    def _provision_fact(self) -> str:
        if self.settings.provision == "local":
            return "local"
        return self._plan or "unknown"

    def _find_keadm(self) -> str | None:
        if self.config.keadm is not None:
            return self.config.keadm if os.access(self.config.keadm, os.X_OK) else None
        return _host.tool("keadm")

    def _keadm_path(self) -> str:
        if self._keadm is None:
            self._keadm = self._find_keadm()
        if self._keadm is None:
            raise PreflightError(f"kubeedge: keadm is not available; install keadm {self.config.version}")
        return self._keadm

    def _edge_nodes(self, *, ready_only: bool) -> list[KubeObject]:
        nodes = [n for n in self._workload().kube.nodes() if _host.is_edge_node(n)]
        return [n for n in nodes if _kube.node_is_ready(n)] if ready_only else nodes

    def _join_problem(self, kube: _kube.KubeClient) -> str | None:
        """Why this run may not make this host an edge node, or None if it may."""
        if not _host.is_root():
            return "not root"
        return self._keadm_problem() or self._host_problem(kube)

    def _keadm_problem(self) -> str | None:
        keadm = self._find_keadm()
        if keadm is None:
            return (
                f"{ENV_KEADM}={self.config.keadm} is not executable" if self.config.keadm else "'keadm' is not on PATH"
            )
        found = parse_keadm_version(proc.run(version_argv(keadm), timeout_s=QUICK_TIMEOUT_S, check=False).stdout)
        if found is None or not same_version(found, self.config.version):
            return f"keadm is {found or 'of unknown version'}, and cloud and edge must both be {self.config.version}"
        return None

    def _host_problem(self, kube: _kube.KubeClient) -> str | None:
        socket_path = Path(ctr_address(self.config.runtime_endpoint))
        if not socket_path.exists():
            return f"no container runtime at {self.config.runtime_endpoint} for edgecore"
        if CONFIG_DIR.is_dir() and any(CONFIG_DIR.iterdir()):
            return f"{CONFIG_DIR} is not empty (an earlier edge install; 'keadm reset edge --force' cleans it)"
        local = [
            n["metadata"]["name"]
            for n in kube.nodes()
            if (ip := _kube.node_address(n)) and _kube.local_address(ip) and not _host.is_edge_node(n)
        ]
        if local:
            return (
                f"this host is already node {local[0]} of the host cluster, and edgecore cannot share it with a kubelet"
            )
        return None

    def _cloudcore_pods(self) -> list[KubeObject]:
        return [p for p in self._workload().kube.pods(CLOUD_NAMESPACE) if p["metadata"]["name"].startswith("cloudcore")]

    def _advertise_address(self) -> str:
        if self.config.advertise_address:
            return self.config.advertise_address
        for node in self._workload().kube.nodes():
            if not _host.is_edge_node(node) and _kube.node_is_ready(node) and (ip := _kube.node_address(node)):
                return ip
        raise PreflightError(
            f"kubeedge: the host cluster has no Ready node with an address for CloudCore; set {ENV_ADVERTISE}"
        )

    def _edge_is_local(self) -> bool:
        if self._edge_joined or self.settings.provision == "local":
            return True
        try:
            nodes = self._edge_nodes(ready_only=False)
        except InfraError:
            return False
        return any(
            (ip := _kube.node_address(n)) and _kube.local_address(ip)
            for n in nodes
            if self._edge_node is None or n["metadata"]["name"] == self._edge_node
        )

    # -- contract ----------------------------------------------------------------

    def preflight(self, images: Sequence[str]) -> None:
        """Host cluster reachable; a Ready edge node to use, or everything needed to join this host."""
        workload = self._workload()
        workload.kube.check_reachable()
        if self.settings.provision == "local":
            self._require_local_edge_ready()
            if not self.settings.reuse:
                workload.check_gateway_ports()
            return
        ready = self._edge_nodes(ready_only=True)
        if ready:
            self._plan = "attach"
            self._edge_node = ready[0]["metadata"]["name"]
            if not self.settings.reuse:
                workload.check_gateway_ports()
            return
        problem = self._join_problem(workload.kube)
        if problem:
            raise PreflightError(
                f"kubeedge: the host cluster has no Ready edge node (label {_host.EDGE_ROLE_LABEL}) and this run "
                f"may not make this host one ({problem}); install keadm {self.config.version} (or set {ENV_KEADM}) "
                "and run as root on the edge host, or join an edge node first with 'keadm join'"
            )
        self._plan = "join"
        self._needs_init = not self._cloudcore_pods()
        if not self.settings.reuse:
            _hostcheck.require_free_ports(
                (self.settings.gateway_http_port, self.settings.gateway_mqtt_port, 1883),
                subject="kubeedge (the edge is this host and the pod uses hostNetwork)",
                fix="stop what holds it (a host mosquitto holds 1883), or use --gateway-ports",
            )

    def _require_local_edge_ready(self) -> None:
        """The local edge node exists and is Ready; else one line naming it, its state and the fix."""
        name = self._local_edge().node_name
        self._edge_node = name
        state = self._edge_node_lost()
        if state is not None:
            raise PreflightError(
                f"kubeedge: --provision local: edge node {name} is {state}; is edgecore running and connected "
                f"to cloudcore? restart it with 'python -m lab.kubeedge down' and 'python -m lab.kubeedge up'"
            )
        self._plan = "attach"

    def up(self) -> Target:
        """Attach to the Ready edge node, or install CloudCore (if missing) and join this host."""
        if self._plan is None:
            self.preflight([])
        kube = self._workload().kube
        if self._plan == "attach":
            return Target(distro=self.name, name=self._edge_node or "?", mode="attached", created=False)
        keadm = self._keadm_path()
        kubeconfig = self._host_kubeconfig()
        address = self._advertise_address()
        if self._needs_init:
            self.settings.progress(f"kubeedge: installing CloudCore {self.config.version} (keadm init)")
            self._cloud_installed = True  # down() resets the cloud even if init fails half way
            proc.run(
                init_argv(keadm, advertise_address=address, kubeconfig=kubeconfig, version=self.config.version),
                timeout_s=KEADM_TIMEOUT_S,
            )
        _host.poll(
            lambda: _host.reachable(address, CLOUDHUB_PORT) and _host.reachable(address, CERT_PORT),
            timeout_s=TOKEN_TIMEOUT_S,
            what=f"kubeedge: CloudCore ports {CLOUDHUB_PORT} and {CERT_PORT} on {address}",
            fix=f"edges must reach both; check CloudCore in namespace {CLOUD_NAMESPACE} or set {ENV_ADVERTISE}",
            progress=self.settings.progress,
        )

        def gettoken() -> str:
            return proc.run(gettoken_argv(keadm, kubeconfig=kubeconfig), timeout_s=QUICK_TIMEOUT_S).stdout.strip()

        token = _host.poll(
            gettoken,
            timeout_s=TOKEN_TIMEOUT_S,
            what="kubeedge: the join token (keadm gettoken)",
            fix=f"check CloudCore in namespace {CLOUD_NAMESPACE}",
            progress=self.settings.progress,
        )
        self.settings.progress(f"kubeedge: joining this host as edge node {self.config.edge_node}")
        self._edge_joined = True  # down() resets the edge even if join fails half way
        if _host.has_systemd():
            EDGECORE_DROPIN.parent.mkdir(parents=True, exist_ok=True)
            EDGECORE_DROPIN.write_text(edgecore_dropin())
            self._dropin_written = True
        proc.run(
            join_argv(
                keadm,
                cloudcore=address,
                token=str(token).splitlines()[-1].strip(),
                version=self.config.version,
                node_name=self.config.edge_node,
                runtime_endpoint=self.config.runtime_endpoint,
                cgroup_driver=self.config.cgroup_driver,
            ),
            timeout_s=KEADM_TIMEOUT_S,
            env=EDGECORE_ENV,
        )
        self._edge_node = self.config.edge_node
        kube.check_reachable()
        return Target(distro=self.name, name=self._edge_node, mode="provisioned", created=True)

    def wait_deployed(self, target: Target, deployment: Deployment, *, timeout_s: float) -> None:
        """Watch the pod until every container is ready, in slices; between them, the edge node must be Ready.

        A pod bound to an edge node whose edgecore stopped or lost cloudcore never starts, and the API
        server only learns it from the node's Ready condition: the wait then ends at once, naming the node.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            self._require_edge_node_ready(deployment)
            left = deadline - time.monotonic()
            try:
                super().wait_deployed(target, deployment, timeout_s=max(min(left, EDGE_CHECK_S), 1.0))
                return
            except ReadinessTimeoutError as err:
                if isinstance(err, ReadinessBlockedError) or time.monotonic() >= deadline:
                    raise

    def undeploy(self, target: Target, deployment: Deployment) -> None:
        """Delete the run's namespace; its pods at once when the edge node is lost (it would never confirm)."""
        self._workload().undeploy(deployment, force_pods=self._edge_node_lost() is not None)

    def _edge_node_lost(self) -> str | None:
        """Why the edge node cannot run pods now (its state), or None while its edgecore reports."""
        name = self._edge_node
        if name is None:
            return None
        kube = self._workload().kube
        node = kube.node(name)
        if node is None:
            return "gone from the cluster"
        # KubeEdge keeps no node lease in the API: the Ready condition (the node lifecycle's grace) is the signal.
        return None if _kube.node_is_ready(node) else edge_node_state(node)

    def _require_edge_node_ready(self, deployment: Deployment) -> None:
        name = self._edge_node
        state = self._edge_node_lost()
        if state is None:
            return
        raise ReadinessBlockedError(
            f"kubeedge: edge node {name} is {state}, so pod {deployment.namespace}/{deployment.pod} cannot start "
            "there: edgecore stopped or lost its connection to cloudcore; see edgecore's log in the diagnostics"
        )

    def container_host(self, target: Target, deployment: Deployment, container: str) -> Any:
        """A testinfra host for one container: ``ctr tasks exec`` on a local edge node (no CloudStream needed)."""
        runtime = self._node_runtime() if self.settings.provision == "local" else None
        if runtime is None:
            return super().container_host(target, deployment, container)
        pod = self._workload().kube.pod(self._workload().namespace_of(deployment), deployment.pod)
        if pod is None:
            raise InfraError(f"kubeedge: pod {deployment.namespace}/{deployment.pod} does not exist; was it deleted?")
        return _ctr_exec.container_host(runtime, pod, container)

    def wait_ready(self, target: Target, *, timeout_s: float) -> None:
        """Wait until the edge node is Ready (edgecore registered and CloudHub connected)."""

        def edge_ready() -> bool:
            nodes = self._edge_nodes(ready_only=True)
            return any(self._edge_node is None or n["metadata"]["name"] == self._edge_node for n in nodes)

        _host.poll(
            edge_ready,
            timeout_s=timeout_s,
            what=f"kubeedge: edge node {self._edge_node or '(any)'} Ready",
            fix=f"see 'journalctl -u {EDGECORE_UNIT}' on the edge and CloudCore's log in namespace {CLOUD_NAMESPACE}",
            progress=self.settings.progress,
        )

    def fingerprint(self, target: Target) -> Fingerprint:
        """`_kube`'s facts plus the edge nodes, the edgecore release they report, CloudCore's image and keadm."""
        facts = dict(super().fingerprint(target).facts)
        edges = self._edge_nodes(ready_only=False)
        facts["edge_nodes"] = sorted(n["metadata"]["name"] for n in edges)
        kubelets = [((n.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "") for n in edges]
        releases = sorted({v for k in kubelets if (v := edgecore_version(k))})
        facts["edgecore_version"] = ", ".join(releases) or "unknown"
        try:
            images = sorted({c["image"] for p in self._cloudcore_pods() for c in p["spec"]["containers"]})
        except (InfraError, KeyError):
            images = []
        facts["cloudcore_image"] = ", ".join(images) or "unknown"
        keadm = self._find_keadm()
        if keadm is not None:
            try:
                done = proc.run(version_argv(keadm), timeout_s=QUICK_TIMEOUT_S, check=False)
                facts["keadm_version"] = parse_keadm_version(done.stdout) or "unknown"
            except SmokeError as err:
                log.info("kubeedge: cannot read keadm's version: %s", err)
        if self.settings.provision == "local":
            local_paths = (LOG_FACT_SUFFIX, POD_LOGS_FACT)
            facts.update({k: v for k, v in self._local_edge().facts.items() if not k.endswith(local_paths)})
        facts["distro_build"] = f"KubeEdge {facts['edgecore_version']} on {facts.get('kubernetes_version', '?')}"
        return Fingerprint(facts=facts)

    def collect_diagnostics(self, target: Target, deployment: Deployment | None, dest: Path) -> list[Path]:
        """`_kube` diagnostics and CloudCore's logs; on a local edge also edgecore's log and the pod's log files.

        ``kubectl logs`` needs CloudStream, so the API's container logs may be
        missing; the log files the edge writes are the fallback. Never raises.
        """
        saved: list[Path] = []
        try:
            workload = self._workload()
            saved += workload.collect_diagnostics(deployment, dest)
            for pod in self._cloudcore_pods():
                saved += workload.kube.collect_diagnostics(CLOUD_NAMESPACE, pod["metadata"]["name"], dest / "cloudcore")
        except Exception as err:  # best effort by contract
            log.warning("kubeedge: API diagnostics incomplete: %s", err)
        pod_logs = _host.POD_LOGS_DIR
        if self.settings.provision == "local":
            facts = self._local_edge().facts
            for key, path in facts.items():
                if key.endswith(LOG_FACT_SUFFIX) and (found := _host.save_tail(Path(path), dest / Path(path).name)):
                    saved.append(found)
            pod_logs = Path(facts.get(POD_LOGS_FACT, str(pod_logs)))
        elif self._edge_is_local():
            saved += _host.save_unit_log(EDGECORE_UNIT, EDGECORE_LOGS, dest / "edgecore")
        namespace = deployment.namespace if deployment is not None else None
        if deployment is not None and namespace is not None and self._work is not None and self._edge_is_local():
            uid = self._work.pod_uid(deployment)
            saved += _host.save_pod_log_files(namespace, deployment.pod, uid, dest / "edge-pod-logs", base=pod_logs)
        return saved

    def down(self, target: Target) -> None:
        """Reset the edge, then the cloud, only where this run made them; repeated calls do nothing.

        Raises:
            InfraError: a reset failed (the step stays pending, so a second call retries it).
        """
        keadm = self._keadm
        failed: list[str] = []
        if self._edge_joined and keadm is not None:
            self.settings.progress("kubeedge: resetting the edge this run joined")
            done = proc.run(reset_edge_argv(keadm), timeout_s=KEADM_TIMEOUT_S, check=False)
            if done.returncode:
                failed.append(f"'keadm reset edge' exited {done.returncode}")
            else:
                self._edge_joined = False
        if self._dropin_written and not self._edge_joined:
            EDGECORE_DROPIN.unlink(missing_ok=True)
            self._dropin_written = False
        if self._cloud_installed and keadm is not None:
            self.settings.progress("kubeedge: removing the CloudCore this run installed")
            done = proc.run(
                reset_cloud_argv(keadm, kubeconfig=self._host_kubeconfig()), timeout_s=KEADM_TIMEOUT_S, check=False
            )
            if done.returncode:
                failed.append(f"'keadm reset cloud' exited {done.returncode}")
            else:
                self._cloud_installed = False
        super().down(target)
        if failed:
            raise InfraError(
                f"kubeedge: teardown incomplete: {'; '.join(failed)}; run the same command by hand as root"
            )
