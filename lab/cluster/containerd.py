"""containerd (Debian 1.6) for the lab cluster: our own config, root, state and socket under the state directory.

Host facts behind the settings:

* ``restrict_oom_score_adj = true``: the host has no CAP_SYS_RESOURCE, so a sandbox's oom_score_adj of -998 is
  refused and RunPodSandbox fails with ``can't get final child's PID from pipe: EOF`` without it.
* ``SystemdCgroup = false``: no systemd; the kubelet uses the cgroupfs driver too.
* ``netns_mounts_under_state_dir`` and the runc ``Root``: network namespaces and runc state go under the state
  directory instead of ``/var/run/netns`` and ``/run/containerd/runc``, so ``down`` finds and removes them.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness import proc
from harness.errors import CommandError
from lab.cluster import layout
from lab.cluster.layout import Layout

CTR_TIMEOUT_S = 30.0

_DISABLED = [
    "io.containerd.snapshotter.v1.aufs",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.snapshotter.v1.zfs",
    "io.containerd.tracing.processor.v1.otlp",
]


def _q(value: str | Path) -> str:
    """Quote `value` as a TOML basic string (JSON escaping is a subset of TOML's)."""
    return json.dumps(str(value))


def render_config(state: Layout) -> str:
    """Return containerd's ``config.toml`` (version 2) for `state`."""
    c = state.containerd
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""\
# Written by lab/cluster/containerd.py for the edgex-smoke lab cluster; rewritten at every start.
version = 2
root = {_q(c / "root")}
state = {_q(c / "state")}
disabled_plugins = [{", ".join(_q(p) for p in _DISABLED)}]

[grpc]
  address = {_q(state.containerd_socket)}

[ttrpc]
  address = {_q(f"{state.containerd_socket}.ttrpc")}

[debug]
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = {_q(c / "opt")}

[{cri}]
  sandbox_image = {_q(layout.PAUSE_IMAGE)}
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  max_container_log_line_size = 16384

[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
  discard_unpacked_layers = false

[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  BinaryName = {_q(proc.which("runc", package="runc"))}
  Root = {_q(c / "runc")}

[{cri}.cni]
  bin_dir = {_q(layout.CNI_BIN_DIR)}
  conf_dir = {_q(state.cni_conf_dir)}
  max_conf_num = 1

[{cri}.registry]
  config_path = ""
"""


def argv(state: Layout) -> list[str]:
    """Return containerd's command line (the config is written by `write_config`)."""
    return [proc.which("containerd", package="containerd"), "--config", str(state.containerd_config)]


def write_config(state: Layout) -> Path:
    """Write the config and create the directories containerd needs; return the config path."""
    for sub in ("root", "state", "opt", "runc"):
        (state.containerd / sub).mkdir(parents=True, exist_ok=True)
    state.cni_conf_dir.mkdir(parents=True, exist_ok=True)
    state.containerd_config.write_text(render_config(state))
    return state.containerd_config


def ctr(state: Layout, args: list[str], *, timeout_s: float = CTR_TIMEOUT_S, check: bool = True) -> proc.Completed:
    """Run ``ctr`` against our containerd, in the CRI namespace ``k8s.io``."""
    return proc.run(
        ["ctr", "--address", str(state.containerd_socket), "--namespace", layout.CONTAINERD_NAMESPACE, *args],
        timeout_s=timeout_s,
        check=check,
        package="containerd",
    )


SERVING_TIMEOUT_S = 5.0


def serving(state: Layout) -> bool:
    """Tell whether containerd answers on its socket; a slow answer (a busy host, a starting daemon) is a no."""
    if not state.containerd_socket.exists():
        return False
    try:
        return ctr(state, ["version"], timeout_s=SERVING_TIMEOUT_S, check=False).returncode == 0
    except CommandError:
        return False


def import_archive(state: Layout, archive: Path, *, timeout_s: float) -> None:
    """Import a docker-archive or OCI tar into the ``k8s.io`` namespace (unpacked for overlayfs)."""
    ctr(state, ["images", "import", str(archive)], timeout_s=timeout_s)


def images(state: Layout) -> set[str]:
    """Return the image references containerd holds in ``k8s.io``."""
    return set(ctr(state, ["images", "ls", "--quiet"]).stdout.split())


def tasks(state: Layout) -> list[str]:
    """Return the IDs of running or stopped tasks (containers and sandboxes with a process)."""
    return ctr(state, ["tasks", "ls", "--quiet"], check=False).stdout.split()


def force_remove_all(state: Layout, *, timeout_s: float) -> list[str]:
    """Kill and delete every task and container; the fallback when the kubelet could not stop its pods.

    Returns:
        The container IDs that were still present.
    """
    left = tasks(state)
    for task in left:
        ctr(state, ["tasks", "kill", "--signal", "SIGKILL", task], check=False, timeout_s=timeout_s)
    for task in left:
        ctr(state, ["tasks", "delete", "--force", task], check=False, timeout_s=timeout_s)
    containers = ctr(state, ["containers", "ls", "--quiet"], check=False).stdout.split()
    for container in containers:
        ctr(state, ["containers", "delete", container], check=False, timeout_s=timeout_s)
    return sorted(set(left) | set(containers))
