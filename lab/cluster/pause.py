"""The pod sandbox ("pause") image, built from ``pause.c`` without any registry.

``gcc -Os -static`` makes a ~700 KB binary; a few lines of stdlib write it as a one-layer docker-archive tar
(``manifest.json``, config, ``layer.tar``) that ``ctr images import`` accepts. The tar is deterministic (zero
mtimes, fixed order), so the image ID only changes when ``pause.c`` does, and it is cached by the digest of
``pause.c`` under ``${XDG_CACHE_HOME:-~/.cache}/edgex-smoke/cluster/pause``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import tarfile
from pathlib import Path

from harness import proc
from harness.errors import InfraError
from lab.cluster import layout

SOURCE = Path(__file__).resolve().parent / "pause.c"
GCC_TIMEOUT_S = 120.0
FORMAT_VERSION = "1"
"""Bump when the archive layout below changes, so cached archives are rebuilt."""

_ARCHES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}


def cache_dir() -> Path:
    """Return where built pause binaries and archives are kept across clusters."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edgex-smoke" / "cluster" / "pause"


def source_key() -> str:
    """Return the cache key: a digest of ``pause.c`` and the archive format."""
    digest = hashlib.sha256(SOURCE.read_bytes() + b"\0" + FORMAT_VERSION.encode())
    return digest.hexdigest()[:16]


def build_binary(out: Path) -> Path:
    """Compile ``pause.c`` statically to `out` and return it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    proc.run(
        ["gcc", "-Os", "-Wall", "-Werror", "-static", "-s", "-o", str(out), str(SOURCE)],
        timeout_s=GCC_TIMEOUT_S,
        package="gcc libc6-dev",
    )
    done = proc.run([str(out), "-v"], timeout_s=10, check=False)
    if done.returncode != 0 or "pause" not in done.stdout:
        raise InfraError(
            f"lab-cluster pause: {out} -v printed {done.stdout.strip()!r} (status {done.returncode}); "
            "check that gcc -static works (apt-get install libc6-dev)"
        )
    return out


def _member(name: str, data: bytes, mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 0
    info.uname = info.gname = "root"
    return info, data


def _tar(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def archive_bytes(binary: bytes, ref: str, *, arch: str | None = None) -> bytes:
    """Return a docker-archive tar of a one-layer image holding `binary` as ``/pause``, tagged `ref`."""
    arch = arch or _ARCHES.get(platform.machine(), platform.machine())
    layer = _tar([_member("pause", binary, 0o755)])
    layer_hex = hashlib.sha256(layer).hexdigest()
    config = {
        "architecture": arch,
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {"Entrypoint": ["/pause"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_hex}"]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "edgex-smoke lab/cluster/pause.c"}],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [ref], "Layers": [f"{layer_hex}/layer.tar"]}]
    return _tar(
        [
            _member(config_name, config_bytes),
            _member(f"{layer_hex}/layer.tar", layer),
            _member("manifest.json", json.dumps(manifest).encode()),
        ]
    )


def ensure_archive(ref: str = layout.PAUSE_IMAGE) -> Path:
    """Return the cached image archive of the pause image, building binary and archive if missing."""
    key = source_key()
    directory = cache_dir()
    archive = directory / f"pause-{key}.tar"
    if archive.is_file():
        return archive
    binary = build_binary(directory / f"pause-{key}")
    partial = archive.with_suffix(".tar.partial")
    partial.write_bytes(archive_bytes(binary.read_bytes(), ref))
    partial.replace(archive)
    return archive
