"""Remove what a lab cluster leaves on the host outside its processes: mounts, the bridge, shims, links, cgroups."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from pathlib import Path

from harness import proc
from lab.cluster import layout, processes
from lab.cluster.layout import Layout

log = logging.getLogger(__name__)

UMOUNT_TIMEOUT_S = 30.0
IP_TIMEOUT_S = 10.0
CONTAINER_LOG_LINKS = Path("/var/log/containers")
"""The kubelet's symlinks to container logs; the path is fixed in the kubelet."""

CGROUP_ROOT = Path("/sys/fs/cgroup")
KUBELET_FIXED_DIR = Path("/var/lib/kubelet")
"""The kubelet puts its device-plugin socket in ``/var/lib/kubelet/device-plugins`` whatever ``--root-dir`` says."""


def _unescape(field: str) -> str:
    r"""Undo the octal escapes (``\040`` for a space) of /proc/self/mountinfo."""
    return field.encode().decode("unicode_escape")


def mounts_under(root: Path, mountinfo: str | None = None) -> list[Path]:
    """Return the mount points at or below `root`, deepest first (the order to unmount them)."""
    text = mountinfo if mountinfo is not None else Path("/proc/self/mountinfo").read_text()
    prefix = str(root).rstrip("/")
    found = set()
    for line in text.splitlines():
        fields = line.split()
        if len(fields) > 4:
            target = _unescape(fields[4])
            if target == prefix or target.startswith(prefix + "/"):
                found.add(Path(target))
    return sorted(found, key=lambda p: (len(p.parts), str(p)), reverse=True)


def unmount_all(root: Path) -> list[Path]:
    """Unmount everything below `root` (lazily when busy); return what could not be unmounted."""
    stuck: list[Path] = []
    for target in mounts_under(root):
        if proc.run(["umount", str(target)], timeout_s=UMOUNT_TIMEOUT_S, check=False).returncode != 0:
            done = proc.run(["umount", "--lazy", str(target)], timeout_s=UMOUNT_TIMEOUT_S, check=False)
            if done.returncode != 0:
                stuck.append(target)
    return stuck


def delete_bridge() -> bool:
    """Delete the CNI bridge if it exists; return whether it did."""
    if not Path("/sys/class/net", layout.BRIDGE).exists():
        return False
    proc.run(["ip", "link", "delete", layout.BRIDGE], timeout_s=IP_TIMEOUT_S, check=False)
    return True


def kill_shims(state: Layout) -> list[int]:
    """SIGKILL containerd shims still serving our containerd (found by its socket path); return their PIDs."""
    pids = processes.processes_with_argument(str(state.containerd_socket))
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pids


def remove_container_log_links(root: Path) -> int:
    """Remove the kubelet's ``/var/log/containers`` links that point into `root`; return how many."""
    removed = 0
    if not CONTAINER_LOG_LINKS.is_dir():
        return 0
    for link in CONTAINER_LOG_LINKS.iterdir():
        if link.is_symlink() and os.readlink(link).startswith(str(root) + "/"):
            link.unlink(missing_ok=True)
            removed += 1
    return removed


def remove_kubelet_leftovers() -> None:
    """Remove the kubelet's device-plugin socket and then ``/var/lib/kubelet`` if that leaves it empty."""
    (KUBELET_FIXED_DIR / "device-plugins" / "kubelet.sock").unlink(missing_ok=True)
    for directory in (KUBELET_FIXED_DIR / "device-plugins", KUBELET_FIXED_DIR):
        with contextlib.suppress(OSError):
            directory.rmdir()


def remove_pod_cgroups(name: str = "kubepods") -> None:
    """Remove the empty `name` cgroups (the kubelet's ``kubepods``, or an edge node's root), deepest first."""
    for hierarchy in CGROUP_ROOT.glob(f"*/{name}"):
        for directory in sorted(hierarchy.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if directory.is_dir():
                with contextlib.suppress(OSError):
                    directory.rmdir()
        with contextlib.suppress(OSError):
            hierarchy.rmdir()
