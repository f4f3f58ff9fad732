"""k3s: K3s on this host (found running, or installed at a pinned version), or attached by kubeconfig.

Where the cluster comes from (decided in `preflight`, nothing created there):
- ``--kubeconfig`` given: attach to that cluster; nothing of it is ever deleted.
- K3s already runs on this host (``k3s`` on PATH and its kubeconfig readable):
  use it, never uninstall it.
- Otherwise install it, only if this run may: root, a service manager (the
  official installer registers K3s with systemd or OpenRC) and an installer.
  The official installer script is named by ``EDGEX_SMOKE_K3S_INSTALLER`` (a file
  or URL; no download site is written in this code) and runs with
  ``INSTALL_K3S_VERSION`` at the pinned version (``EDGEX_SMOKE_K3S_VERSION``,
  default `DEFAULT_VERSION`). Air-gapped: ``EDGEX_SMOKE_K3S_AIRGAP_DIR`` holds the
  ``k3s`` binary, the installer (``install.sh``) and image tarballs; the binary goes
  to ``/usr/local/bin``, the tarballs to the agent images directory, and the
  installer runs with ``INSTALL_K3S_SKIP_DOWNLOAD=true``. ``down`` runs
  ``k3s-uninstall.sh`` only if this run installed K3s.

K3s quirks this driver handles:
- Traefik and ServiceLB take host ports 80/443 on every node ("ports 80 and 443
  will not be usable for other HostPort or NodePort pods"; k3s-io/k3s#1107, #1969,
  k3d-io/k3d#104): installs pass ``--disable=traefik --disable=servicelb`` as two
  flags (the old ``--no-deploy`` confused users, k3s-io/k3s#1160; disabling Traefik
  once also disabled ServiceLB, rancher/k3s#1439).
- ``/etc/rancher/k3s/k3s.yaml`` is root-only by default (k3s-io/k3s#7272, discussion
  #7278) and the mode can revert after a reboot: installs pass
  ``--write-kubeconfig-mode=644``; an unreadable kubeconfig fails preflight with
  the fix.
- Images are side-loaded with ``k3s ctr images import`` into the ``k8s.io``
  namespace; importing while K3s runs works from v1.32.0+k3s1 / v1.31.5+k3s1
  (before that only at boot from the agent images directory), hence the pinned
  version. Air-gap tarballs and ``registries.yaml`` are separate features
  (k3s-io/k3s#4392; pause image pitfalls #2961, #5486).
- The server version carries the K3s build (``v1.32.5+k3s1``): the fingerprint
  reports it as ``distro_build``.
- A single node fails conformance tests that need two untainted nodes
  (k3s-io/k3s#10023); the smoke test needs one.
- Hosts without systemd or OpenRC (like the CI machines) cannot run the official
  installer; attach with ``--kubeconfig`` there.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from distros import _cluster, _host, _kube, _sideload
from distros._protocol import Deployment, DistroSettings, Fingerprint, Target
from harness import proc
from harness.errors import InfraError, PreflightError, SmokeError

log = logging.getLogger(__name__)

DEFAULT_VERSION = "v1.32.5+k3s1"
"""Pinned K3s release: image import while running needs v1.32.0+k3s1 or later (see the module docstring)."""
KUBECONFIG = Path("/etc/rancher/k3s/k3s.yaml")
AGENT_IMAGES_DIR = Path("/var/lib/rancher/k3s/agent/images")
BINARY_PATH = Path("/usr/local/bin/k3s")
UNINSTALL_SCRIPT = Path("/usr/local/bin/k3s-uninstall.sh")
SERVER_FLAGS = ("--disable=traefik", "--disable=servicelb", "--write-kubeconfig-mode=644")
LOG_FILES = (Path("/var/log/k3s.log"), Path("/var/lib/rancher/k3s/agent/containerd/containerd.log"))
INSTALL_TIMEOUT_S = 900.0
UNINSTALL_TIMEOUT_S = 300.0
KUBECONFIG_TIMEOUT_S = 120.0
VERSION_TIMEOUT_S = 30.0
AIRGAP_IMAGE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.lz4", ".tar.bz2")

ENV_VERSION = "EDGEX_SMOKE_K3S_VERSION"
ENV_INSTALLER = "EDGEX_SMOKE_K3S_INSTALLER"
ENV_AIRGAP_DIR = "EDGEX_SMOKE_K3S_AIRGAP_DIR"

Plan = Literal["attach", "local", "install"]
_VERSION_LINE = re.compile(r"^k3s version (?P<version>v\S+)", re.MULTILINE)


@dataclass(frozen=True)
class K3sConfig:
    """How K3s may be installed; from the environment (`from_env`), fixed for the run."""

    version: str = DEFAULT_VERSION
    installer: str | None = None
    """Path or URL of the official installer script."""
    airgap_dir: Path | None = None
    """A directory with the ``k3s`` binary, ``install.sh`` and image tarballs."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> K3sConfig:
        """Read `ENV_VERSION`, `ENV_INSTALLER` and `ENV_AIRGAP_DIR`."""
        airgap = env.get(ENV_AIRGAP_DIR, "").strip()
        return cls(
            version=_host.env_value(env, ENV_VERSION, DEFAULT_VERSION),
            installer=env.get(ENV_INSTALLER, "").strip() or None,
            airgap_dir=Path(airgap).expanduser() if airgap else None,
        )


# -- command lines (pure; tests record them) -----------------------------------------------------------------


def install_argv(installer: Path) -> list[str]:
    """Run the official installer script (downloaded or copied into the work directory)."""
    return ["sh", str(installer)]


def install_env(version: str, *, airgap: bool) -> dict[str, str]:
    """Environment for the installer: the pinned version and the server flags; air-gap skips the download."""
    env = {"INSTALL_K3S_EXEC": " ".join(SERVER_FLAGS)}
    if airgap:
        env["INSTALL_K3S_SKIP_DOWNLOAD"] = "true"
    else:
        env["INSTALL_K3S_VERSION"] = version
    return env


def uninstall_argv() -> list[str]:
    """The uninstall script the official installer writes."""
    return [str(UNINSTALL_SCRIPT)]


def node_runtime(k3s: str) -> _sideload.NodeRuntime:
    """K3s's embedded containerd (``k3s ctr``); pulls go through the CRI (``k3s crictl``) so mirrors apply."""
    return _sideload.NodeRuntime(ctr=(k3s, "ctr"), pull_command=(k3s, "crictl", "pull"))


def version_argv(k3s: str) -> list[str]:
    """``k3s --version``."""
    return [k3s, "--version"]


def parse_version(text: str) -> str | None:
    """``v1.32.5+k3s1`` from ``k3s --version`` output, or None."""
    match = _VERSION_LINE.search(text)
    return match["version"] if match else None


def airgap_files(directory: Path) -> tuple[Path | None, Path | None, list[Path]]:
    """(``k3s`` binary, ``install.sh``, image tarballs) found in an air-gap directory."""
    binary = directory / "k3s"
    script = directory / "install.sh"
    tarballs = sorted(p for p in directory.iterdir() if p.is_file() and p.name.endswith(AIRGAP_IMAGE_SUFFIXES))
    return (binary if binary.is_file() else None), (script if script.is_file() else None), tarballs


# -- the driver ----------------------------------------------------------------------------------------------


class K3sDistro(_cluster.ClusterDistro):
    """One EdgeX pod on K3s: this host's (found or installed), or one attached by kubeconfig."""

    name: ClassVar[str] = "k3s"

    def __init__(self, settings: DistroSettings, config: K3sConfig | None = None) -> None:
        super().__init__(settings)
        self.config = config or K3sConfig.from_env(os.environ)
        self._plan: Plan | None = None
        self._installed = False

    # -- helpers -----------------------------------------------------------------

    def _connection(self) -> tuple[Path, str | None]:
        if self.settings.kubeconfig is not None:
            return self.settings.kubeconfig, self.settings.context
        return KUBECONFIG, None

    def _node_runtime(self) -> _sideload.NodeRuntime | None:
        k3s = self._k3s()
        return node_runtime(k3s) if k3s is not None and self._node_is_local() else None

    def _provision_fact(self) -> str:
        return self._plan or "unknown"

    def _k3s(self) -> str | None:
        return _host.tool("k3s")

    def _install_problem(self) -> str | None:
        """Why this run may not install K3s, or None if it may."""
        if not _host.is_root():
            return "not root"
        if not (_host.has_systemd() or _host.has_openrc()):
            return "this host has neither systemd nor OpenRC, which the official installer needs"
        if self.config.airgap_dir is not None:
            return self._airgap_problem(self.config.airgap_dir)
        if self.config.installer is None:
            return f"no network to the official installer: {ENV_INSTALLER} names no installer script (a path or URL)"
        problem = _host.source_problem(self.config.installer)
        return f"no network to the official installer: {problem}" if problem else None

    def _airgap_problem(self, directory: Path) -> str | None:
        if not directory.is_dir():
            return f"{ENV_AIRGAP_DIR}={directory} is not a directory"
        binary, script, _ = airgap_files(directory)
        problem = None
        if binary is None:
            problem = f"the air-gap directory {directory} has no 'k3s' binary"
        elif self.config.installer is not None:
            problem = _host.source_problem(self.config.installer)
        elif script is None:
            problem = f"the air-gap directory {directory} has no install.sh and {ENV_INSTALLER} is unset"
        return problem

    def _decide(self) -> Plan:
        if self.settings.kubeconfig is not None:
            return "attach"
        if self._k3s() is not None:
            if os.access(KUBECONFIG, os.R_OK):
                return "local"
            raise PreflightError(
                f"k3s: K3s is installed but its kubeconfig {KUBECONFIG} is missing or not readable "
                "(root-only by default, k3s-io/k3s#7272); start K3s, run as root, or set "
                'write-kubeconfig-mode: "0644" in /etc/rancher/k3s/config.yaml'
            )
        problem = self._install_problem()
        if problem:
            raise PreflightError(
                f"k3s: 'k3s' is not on PATH and this run may not install it ({problem}); "
                f"install k3s {self.config.version} or pass --kubeconfig to attach"
            )
        return "install"

    # -- contract ----------------------------------------------------------------

    def preflight(self, images: Sequence[str]) -> None:
        """Decide attach / this host's K3s / install, and check what that needs; create nothing."""
        self._plan = self._decide()
        if self._plan == "install":
            self._check_host_ports(fix="stop what holds it, or use --gateway-ports")
            return
        self._check_cluster()

    def up(self) -> Target:
        """Attach, use this host's K3s, or install K3s at the pinned version."""
        plan = self._plan or self._decide()
        if plan == "install":
            self._install()
            _host.poll(
                lambda: os.access(KUBECONFIG, os.R_OK),
                timeout_s=KUBECONFIG_TIMEOUT_S,
                what=f"k3s: kubeconfig {KUBECONFIG}",
                fix="see 'journalctl -u k3s' (or /var/log/k3s.log under OpenRC)",
                progress=self.settings.progress,
            )
        return self._target(attached=plan == "attach", created=self._installed)

    def _install(self) -> None:
        work = self.settings.work_dir / "k3s"
        work.mkdir(parents=True, exist_ok=True)
        airgap = self.config.airgap_dir is not None
        if self.config.airgap_dir is not None:
            binary, script, tarballs = airgap_files(self.config.airgap_dir)
            assert binary is not None  # checked in preflight
            self.settings.progress(f"k3s: placing the air-gap binary and {len(tarballs)} image tarball(s)")
            shutil.copyfile(binary, BINARY_PATH)
            BINARY_PATH.chmod(0o755)
            AGENT_IMAGES_DIR.mkdir(parents=True, exist_ok=True)
            for tarball in tarballs:
                shutil.copyfile(tarball, AGENT_IMAGES_DIR / tarball.name)
            source = self.config.installer or str(script)
        else:
            assert self.config.installer is not None  # checked in preflight
            source = self.config.installer
        installer = _host.fetch(source, work / "install.sh", subject="k3s", what="official installer")
        self.settings.progress(f"k3s: installing {self.config.version}")
        self._installed = True  # from here on, down() must uninstall even if the installer fails half way
        proc.run(
            install_argv(installer),
            timeout_s=INSTALL_TIMEOUT_S,
            env=install_env(self.config.version, airgap=airgap),
        )

    def fingerprint(self, target: Target) -> Fingerprint:
        """`_kube`'s facts plus the K3s build from the server version and the local binary."""
        facts = dict(super().fingerprint(target).facts)
        k3s = self._k3s()
        if k3s is not None and self._plan != "attach":
            try:
                done = proc.run(version_argv(k3s), timeout_s=VERSION_TIMEOUT_S, check=False)
                facts["k3s_version"] = parse_version(done.stdout) or "unknown"
            except SmokeError as err:
                log.info("k3s: cannot read the binary's version: %s", err)
        return Fingerprint(facts=facts)

    def _node_is_local(self) -> bool:
        if self._plan in ("local", "install"):
            return True
        try:
            nodes = self._workload().kube.nodes()
        except InfraError:
            return False
        return any((ip := _kube.node_address(n)) and _kube.local_address(ip) for n in nodes)

    def collect_diagnostics(self, target: Target, deployment: Deployment | None, dest: Path) -> list[Path]:
        """`_kube` diagnostics, plus K3s's own logs when K3s runs on this host; never raises."""
        saved = super().collect_diagnostics(target, deployment, dest)
        if self._plan in ("local", "install"):
            saved += _host.save_unit_log("k3s", LOG_FILES, dest / "k3s")
        return saved

    def down(self, target: Target) -> None:
        """Uninstall K3s only if this run installed it; repeated calls do nothing."""
        super().down(target)
        if not (target.created and self._installed):
            return
        if UNINSTALL_SCRIPT.exists():
            self.settings.progress("k3s: uninstalling what this run installed")
            proc.run(uninstall_argv(), timeout_s=UNINSTALL_TIMEOUT_S)
        self._installed = False
