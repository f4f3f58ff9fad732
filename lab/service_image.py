"""One tiny image per EdgeX service, with the upstream images' run contract.

Binary at ``/<service>``, its ``res/`` at ``/res``, ``WORKDIR /``, ``ENTRYPOINT ["/<service>"]`` and the
upstream default arguments, so one manifest works for upstream and lab images alike. Like the upstream
Alpine images, each has a busybox shell (Debian's static busybox): testinfra runs its checks through
``/bin/sh`` inside the container.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

UPSTREAM_ARGS = ("-cp=keeper.http://edgex-core-keeper:59890", "--registry")
STANDARD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
HOST_BUSYBOX = Path("/bin/busybox")
"""From Debian's busybox-static (.ci/host-packages): one static binary, no libraries to copy."""
BUSYBOX_APPLETS = ("sh", "test", "cat", "ls", "ps", "grep", "wget", "sleep", "date", "timeout")
"""The commands testinfra, manifests/releases/*/wait-for.sh and a human debugging a container reach for."""
MTIME = 0

ETC_FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n",
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
    "etc/nsswitch.conf": "hosts: files dns\n",
}
"""nsswitch.conf makes Go's resolver read /etc/hosts before DNS, so ``localhost`` never waits on DNS."""


def image_changes(name: str) -> tuple[str, ...]:
    """Return the ``podman import --change`` instructions of service `name`."""
    return (
        f"ENV PATH={STANDARD_PATH}",
        "WORKDIR /",
        f"ENTRYPOINT {json.dumps(['/' + name])}",
        f"CMD {json.dumps(list(UPSTREAM_ARGS))}",
    )


def _info(name: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime = kind, mode, size, MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    tar.addfile(_info(name, tarfile.REGTYPE, mode, len(data)), io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str, mode: int = 0o755) -> None:
    tar.addfile(_info(name, tarfile.DIRTYPE, mode))


def _add_symlink(tar: tarfile.TarFile, name: str, target: str) -> None:
    info = _info(name, tarfile.SYMTYPE, 0o777)
    info.linkname = target
    tar.addfile(info)


def _add_busybox(tar: tarfile.TarFile) -> None:
    if not HOST_BUSYBOX.is_file():
        raise FileNotFoundError(f"{HOST_BUSYBOX} is missing; install Debian's busybox-static (.ci/host-packages)")
    _add_dir(tar, "bin")
    _add_bytes(tar, "bin/busybox", HOST_BUSYBOX.read_bytes(), 0o755)
    for applet in BUSYBOX_APPLETS:
        _add_symlink(tar, f"bin/{applet}", "busybox")


def _add_tree(tar: tarfile.TarFile, source: Path, name: str) -> None:
    """Add `source` as `name`, sorted, root-owned, world-readable (the module cache is read-only)."""
    _add_dir(tar, name)
    for path in sorted(source.rglob("*")):
        target = f"{name}/{path.relative_to(source).as_posix()}"
        if path.is_symlink():
            continue  # module zips carry no symlinks; never follow one out of the tree
        if path.is_dir():
            _add_dir(tar, target)
        else:
            _add_bytes(tar, target, path.read_bytes(), 0o644)


def write_rootfs_tar(name: str, binary: Path, res: Path, tarball: Path) -> None:
    """Write the root filesystem of service `name` to `tarball`: binary, res tree, busybox, /etc basics, /tmp."""
    if not res.is_dir():
        raise FileNotFoundError(f"{res}: the res/ tree of {name} is missing from the module cache")
    partial = tarball.with_name(tarball.name + ".partial")
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(partial, "w", format=tarfile.GNU_FORMAT) as tar:
        for directory in ("etc", "etc/ssl", "etc/ssl/certs"):
            _add_dir(tar, directory)
        _add_dir(tar, "tmp", 0o1777)
        for path, text in ETC_FILES.items():
            _add_bytes(tar, path, text.encode(), 0o644)
        if HOST_CA_BUNDLE.is_file():
            _add_bytes(tar, "etc/ssl/certs/ca-certificates.crt", HOST_CA_BUNDLE.read_bytes(), 0o644)
        _add_busybox(tar)
        _add_bytes(tar, name, binary.read_bytes(), 0o755)
        _add_tree(tar, res, "res")
    partial.replace(tarball)
