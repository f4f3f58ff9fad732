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
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

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


def image_changes(
    name: str, *, binary_at: str | None = None, args: Sequence[str] | None = None, workdir: str = "/"
) -> tuple[str, ...]:
    """Return the ``podman import --change`` instructions of service `name`.

    The entrypoint is its binary (``/<name>`` unless `binary_at` says otherwise); the default
    arguments are the upstream EdgeX services' unless `args` gives others.
    """
    return (
        f"ENV PATH={STANDARD_PATH}",
        f"WORKDIR {workdir}",
        f"ENTRYPOINT {json.dumps([binary_at or '/' + name])}",
        f"CMD {json.dumps(list(UPSTREAM_ARGS if args is None else args))}",
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


def _add_parents(tar: tarfile.TarFile, image_path: str, made: set[str]) -> str:
    """Add the missing parent directories of `image_path`; return its name inside the tarball."""
    relative = PurePosixPath(image_path.lstrip("/"))
    for parent in reversed(relative.parents[:-1]):
        if str(parent) not in made:
            _add_dir(tar, str(parent))
            made.add(str(parent))
    return str(relative)


def write_rootfs_tar(
    name: str,
    binary: Path,
    res: Path | None,
    tarball: Path,
    *,
    binary_at: str | None = None,
    res_at: str = "/res",
    executables: Mapping[str, Path] | None = None,
    files: Mapping[str, Path] | None = None,
) -> None:
    """Write the root filesystem of service `name` to `tarball`: binary, res tree, busybox, /etc basics, /tmp.

    `binary` goes to `binary_at` (``/<name>``) and `res` to `res_at` (None: an image with no
    ``res/``, such as OpenBao's); `executables` and `files` map further image paths to host files
    (mode 0755 and 0644), for images whose upstream counterpart carries more than one binary or
    files outside ``res/``.
    """
    if res is not None and not res.is_dir():
        raise FileNotFoundError(f"{res}: the res/ tree of {name} is missing from the module cache")
    extras = [(path, source, 0o755) for path, source in (executables or {}).items()]
    extras += [(path, source, 0o644) for path, source in (files or {}).items()]
    for _path, source, _mode in extras:
        if not source.is_file():
            raise FileNotFoundError(f"{source}: a file of the {name} image is missing")
    partial = tarball.with_name(tarball.name + ".partial")
    tarball.parent.mkdir(parents=True, exist_ok=True)
    made = {"etc", "etc/ssl", "etc/ssl/certs", "tmp", "root", "bin"}
    with tarfile.open(partial, "w", format=tarfile.GNU_FORMAT) as tar:
        for directory in ("etc", "etc/ssl", "etc/ssl/certs"):
            _add_dir(tar, directory)
        _add_dir(tar, "tmp", 0o1777)
        _add_dir(tar, "root", 0o700)  # root's home in /etc/passwd: programs keep state there (bao its token)
        for path, text in ETC_FILES.items():
            _add_bytes(tar, path, text.encode(), 0o644)
        if HOST_CA_BUNDLE.is_file():
            _add_bytes(tar, "etc/ssl/certs/ca-certificates.crt", HOST_CA_BUNDLE.read_bytes(), 0o644)
        _add_busybox(tar)
        _add_bytes(tar, _add_parents(tar, binary_at or f"/{name}", made), binary.read_bytes(), 0o755)
        if res is not None:
            res_name = _add_parents(tar, res_at, made)
            _add_tree(tar, res, res_name)
            made.add(res_name)
        for path, source, mode in sorted(extras):
            _add_bytes(tar, _add_parents(tar, path, made), source.read_bytes(), mode)
    partial.replace(tarball)
