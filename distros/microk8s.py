"""microk8s: MicroK8s on this host (found, or installed from a pinned snap channel), or attached by kubeconfig.

Where the cluster comes from (decided in `preflight`, nothing created there):
- ``--kubeconfig`` given: attach to that cluster; nothing of it is ever deleted.
- ``microk8s`` on PATH: use this host's MicroK8s; its kubeconfig comes from
  ``microk8s config`` into the run's work directory. Never removed.
- Otherwise, as root with ``snap`` on PATH: ``snap install microk8s --classic
  --channel=<pinned>`` (``EDGEX_SMOKE_MICROK8S_CHANNEL``, default
  `DEFAULT_CHANNEL`), ``microk8s status --wait-ready --timeout N``, ``microk8s
  enable dns hostpath-storage``, ``microk8s config``. ``down`` runs ``snap remove
  microk8s --purge`` only if this run installed it.

MicroK8s quirks this driver handles:
- The ready gate ``microk8s status --wait-ready`` can hang for non-root users
  (canonical/microk8s#884): it always runs with ``--timeout`` inside a command
  deadline, and the cluster's readiness is then watched through the API.
- Non-root users need the ``microk8s`` group; preflight says so with the fix.
- Older channels enable neither DNS nor RBAC (balchua/microk8s-actions); the
  channel is pinned. The DNS addon forwards to 8.8.8.8/8.8.4.4 by default
  (canonical/microk8s#75): ``EDGEX_SMOKE_MICROK8S_DNS`` passes an upstream for
  offline labs (``dns:<ip>``). dns and storage can report not-ready for a while
  (#897); the pod needs neither (it talks over localhost, no volume claims).
- Images: ``microk8s images import <tar>`` (1.25+) loads all nodes; ``microk8s ctr
  image import`` only the local one. Archives come from ``podman save --format
  docker-archive``, because ``ctr`` rejects some skopeo-made OCI tars
  (canonical/microk8s#4460).
- An iptables FORWARD policy of DROP (often left by Docker) breaks pod traffic
  (canonical/microk8s#266, #4310; PR #462): ``microk8s inspect`` warns about it, and
  its tarball is part of the diagnostics.
- Single-node Sonobuoy fails a DaemonSet rollback test (canonical/microk8s#3096,
  #4748); the smoke test needs one node only.
- The fingerprint adds the snap's version, revision and channel from ``snap list
  microk8s``: the build string the Kubernetes version alone does not tell.
"""

from __future__ import annotations

import grp
import logging
import os
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from distros import _cluster, _host, _sideload
from distros._protocol import Deployment, DistroSettings, Fingerprint, Target
from harness import proc
from harness.errors import InfraError, PreflightError, SmokeError

log = logging.getLogger(__name__)

DEFAULT_CHANNEL = "1.32/stable"
ADDONS = ("dns", "hostpath-storage")
GROUP = "microk8s"
SNAP_TIMEOUT_S = 900.0
STATUS_TIMEOUT_S = 600
ENABLE_TIMEOUT_S = 600.0
QUICK_TIMEOUT_S = 60.0
INSPECT_TIMEOUT_S = 600.0

ENV_CHANNEL = "EDGEX_SMOKE_MICROK8S_CHANNEL"
ENV_DNS = "EDGEX_SMOKE_MICROK8S_DNS"

Plan = Literal["attach", "local", "install"]
_TARBALL = re.compile(r"Report tarball is at (?P<path>\S+\.tar\.gz)")


@dataclass(frozen=True)
class MicroK8sConfig:
    """How MicroK8s may be installed; from the environment (`from_env`), fixed for the run."""

    channel: str = DEFAULT_CHANNEL
    dns_upstream: str | None = None
    """Upstream resolver(s) for the DNS addon, e.g. ``10.0.0.1``; None keeps the addon's default."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MicroK8sConfig:
        """Read `ENV_CHANNEL` and `ENV_DNS`."""
        return cls(
            channel=_host.env_value(env, ENV_CHANNEL, DEFAULT_CHANNEL),
            dns_upstream=env.get(ENV_DNS, "").strip() or None,
        )


# -- command lines (pure; tests record them) -----------------------------------------------------------------


def install_argv(channel: str) -> list[str]:
    """Install the MicroK8s snap from a pinned channel."""
    return ["snap", "install", "microk8s", "--classic", f"--channel={channel}"]


def remove_argv() -> list[str]:
    """Remove the snap and its data (no snapshot left behind)."""
    return ["snap", "remove", "microk8s", "--purge"]


def status_argv(timeout_s: int) -> list[str]:
    """Block until MicroK8s reports ready, at most `timeout_s` seconds."""
    return ["microk8s", "status", "--wait-ready", "--timeout", str(timeout_s)]


def enable_argv(dns_upstream: str | None = None) -> list[str]:
    """Enable the addons a typical install has; ``dns:<upstream>`` for offline labs."""
    addons = [f"dns:{dns_upstream}" if name == "dns" and dns_upstream else name for name in ADDONS]
    return ["microk8s", "enable", *addons]


def config_argv() -> list[str]:
    """Print the cluster's admin kubeconfig (written to a file by the driver)."""
    return ["microk8s", "config"]


NODE_RUNTIME = _sideload.NodeRuntime(ctr=("microk8s", "ctr"), import_command=("microk8s", "images", "import"))
"""MicroK8s's containerd; archives go in with MicroK8s's own import, which reaches every node."""


def inspect_argv() -> list[str]:
    """Write the inspection report tarball."""
    return ["microk8s", "inspect"]


def snap_list_argv() -> list[str]:
    """The snap's version, revision and channel."""
    return ["snap", "list", "microk8s"]


def parse_snap_list(text: str) -> dict[str, str]:
    """``{"version", "revision", "channel"}`` from ``snap list microk8s`` output; {} if absent."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return {}
    header = [h.lower() for h in lines[0]]
    for row in lines[1:]:
        if row and row[0] == "microk8s":
            fields = dict(zip(header, row, strict=False))
            return {
                "version": fields.get("version", "?"),
                "revision": fields.get("rev", "?"),
                "channel": fields.get("tracking", "?"),
            }
    return {}


def parse_inspect_tarball(text: str) -> Path | None:
    """The report tarball ``microk8s inspect`` names in its output, or None."""
    match = _TARBALL.search(text)
    return Path(match["path"]) if match else None


def in_group(name: str) -> bool:
    """True if this process is root or a member of group `name`."""
    if os.geteuid() == 0:
        return True
    try:
        gid = grp.getgrnam(name).gr_gid
    except KeyError:
        return False
    return gid in os.getgroups() or gid == os.getegid()


# -- the driver ----------------------------------------------------------------------------------------------


class MicroK8sDistro(_cluster.ClusterDistro):
    """One EdgeX pod on MicroK8s: this host's (found or installed), or one attached by kubeconfig."""

    name: ClassVar[str] = "microk8s"

    def __init__(self, settings: DistroSettings, config: MicroK8sConfig | None = None) -> None:
        super().__init__(settings)
        self.config = config or MicroK8sConfig.from_env(os.environ)
        self._plan: Plan | None = None
        self._installed = False
        self._kubeconfig: Path | None = None

    # -- helpers -----------------------------------------------------------------

    def _run(self, argv: Sequence[str], *, timeout_s: float = QUICK_TIMEOUT_S, check: bool = True) -> proc.Completed:
        return proc.run(argv, timeout_s=timeout_s, check=check)

    def _connection(self) -> tuple[Path, str | None]:
        if self.settings.kubeconfig is not None:
            return self.settings.kubeconfig, self.settings.context
        return self._write_kubeconfig(), None

    def _node_runtime(self) -> _sideload.NodeRuntime | None:
        return NODE_RUNTIME if self._plan in ("local", "install") else None

    def _provision_fact(self) -> str:
        return self._plan or "unknown"

    def _write_kubeconfig(self) -> Path:
        """``microk8s config`` into the run's work directory (mode 0600; never printed)."""
        if self._kubeconfig is None:
            text = self._run(config_argv()).stdout
            path = self.settings.work_dir / "microk8s" / "kubeconfig"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(text)
            self._kubeconfig = path
        return self._kubeconfig

    def _install_problem(self) -> str | None:
        if not _host.is_root():
            return "not root"
        if _host.tool("snap") is None:
            return "no 'snap' command: snapd is not installed"
        if not _host.has_systemd():
            return "snapd needs systemd, which this host does not run"
        return None

    def _decide(self) -> Plan:
        if self.settings.kubeconfig is not None:
            return "attach"
        if _host.tool("microk8s") is not None:
            if not in_group(GROUP):
                raise PreflightError(
                    f"microk8s: this user is not in group '{GROUP}', so 'microk8s' commands are refused; "
                    f"run 'sudo usermod -a -G {GROUP} $USER' and log in again, or run as root"
                )
            return "local"
        problem = self._install_problem()
        if problem:
            raise PreflightError(
                f"microk8s: 'microk8s' is not on PATH and this run may not install it ({problem}); "
                f"install MicroK8s with 'snap install microk8s --classic --channel={self.config.channel}' "
                "or pass --kubeconfig to attach"
            )
        return "install"

    # -- contract ----------------------------------------------------------------

    def preflight(self, images: Sequence[str]) -> None:
        """Decide attach / this host's MicroK8s / install, and check what that needs; create nothing."""
        self._plan = self._decide()
        if self._plan == "attach":
            self._check_cluster()
        else:
            self._check_host_ports(
                fix="stop what holds it (a kept EdgeX pod: delete its edgex-smoke-* namespace), or use --gateway-ports"
            )

    def up(self) -> Target:
        """Attach, use this host's MicroK8s, or install the pinned snap; then build the API client."""
        plan = self._plan or self._decide()
        if plan == "install":
            self.settings.progress(f"microk8s: installing the snap from channel {self.config.channel}")
            self._installed = True  # from here on, down() must remove the snap even if a later step fails
            self._run(install_argv(self.config.channel), timeout_s=SNAP_TIMEOUT_S)
            self._run(status_argv(STATUS_TIMEOUT_S), timeout_s=STATUS_TIMEOUT_S + 30)
            self.settings.progress(f"microk8s: enabling {', '.join(ADDONS)}")
            self._run(enable_argv(self.config.dns_upstream), timeout_s=ENABLE_TIMEOUT_S)
        return self._target(attached=plan == "attach", created=self._installed)

    def wait_ready(self, target: Target, *, timeout_s: float) -> None:
        """This host's MicroK8s: its own ready gate (bounded); then watch ``/readyz`` and a Ready node."""
        deadline = time.monotonic() + timeout_s
        if self._plan in ("local", "install"):
            bound = max(1, int(timeout_s))
            self._run(status_argv(bound), timeout_s=bound + 30)
        remaining = max(1.0, deadline - time.monotonic())  # one deadline for both gates
        self._workload().kube.wait_nodes_ready(remaining, self.settings.progress)

    def fingerprint(self, target: Target) -> Fingerprint:
        """`_kube`'s facts plus the snap's version, revision and channel (this host only)."""
        facts = dict(super().fingerprint(target).facts)
        if self._plan != "attach" and _host.tool("snap") is not None:
            try:
                snap = parse_snap_list(self._run(snap_list_argv(), check=False).stdout)
            except SmokeError as err:
                log.info("microk8s: cannot read 'snap list microk8s': %s", err)
                snap = {}
            if snap:
                facts["snap_version"] = snap["version"]
                facts["snap_revision"] = snap["revision"]
                facts["snap_channel"] = snap["channel"]
                facts["distro_build"] = f"{snap['version']} (snap rev {snap['revision']}, {snap['channel']})"
        return Fingerprint(facts=facts)

    def collect_diagnostics(self, target: Target, deployment: Deployment | None, dest: Path) -> list[Path]:
        """`_kube` diagnostics, plus the ``microk8s inspect`` tarball on this host; never raises."""
        saved = super().collect_diagnostics(target, deployment, dest)
        if self._plan in ("local", "install"):
            saved += self._inspect(dest)
        return saved

    def _inspect(self, dest: Path) -> list[Path]:
        """Run ``microk8s inspect`` (it exits 1 when a service is down, and still writes the tarball)."""
        output = _host.save_command(inspect_argv(), dest / "microk8s-inspect.txt", timeout_s=INSPECT_TIMEOUT_S)
        if output is None:
            return []
        saved = [output]
        try:
            tarball = parse_inspect_tarball(output.read_text())
            if tarball is not None and tarball.is_file():
                saved.append(Path(shutil.copyfile(tarball, dest / tarball.name)))
        except OSError as err:
            log.warning("microk8s: cannot copy the inspect tarball: %s", err)
        return saved

    def down(self, target: Target) -> None:
        """Remove the snap only if this run installed it; repeated calls do nothing."""
        super().down(target)
        if not (target.created and self._installed):
            return
        self.settings.progress("microk8s: removing the snap this run installed")
        self._run(remove_argv(), timeout_s=SNAP_TIMEOUT_S, check=False)
        self._installed = False
        if _host.tool("snap") is not None and self._run(snap_list_argv(), check=False).returncode == 0:
            raise InfraError("microk8s: 'snap remove microk8s --purge' left the snap installed; remove it by hand")
