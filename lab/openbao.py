"""OpenBao, EdgeX 4.0's secret store, built from its release's source tree.

OpenBao's go.mod replaces its ``api``, ``sdk`` and ``api/auth`` modules with directories of its own
tree, so it cannot be built through the Go proxy as a dependency: it is built as the main module,
in its tree, from a source archive (``git archive`` of the release tag) pinned by its sha256.
Its go-kms-wrapping dependencies that the default proxy refuses come from ``GOPROXY`` like the
EdgeX modules (make puts ../shared/goproxy first); the checksum database does not know some of
them, so ``github.com/openbao`` is exempt from it, and go.sum still pins every other module.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
from pathlib import Path

from harness import proc
from harness.errors import InfraError
from lab import toolchain
from lab.paths import REPO_DIR
from lab.pins import OpenBao

BUILD_TIMEOUT_S = 3600.0
"""A cold build downloads about 2.5 GB of modules: 694 s on 2 shared cores (../shared/src/README.md)."""
SOURCE_DIRS_ENV = "EDGEX_SMOKE_SRC"
"""Where source archives are looked for first; then ../shared/src next to the checkout."""
VERSION_PACKAGE = "github.com/openbao/openbao/version"


def archive_path(pin: OpenBao) -> Path:
    """The source archive: in ``$EDGEX_SMOKE_SRC`` if set, else in ``../shared/src`` beside the checkout."""
    directory = os.environ.get(SOURCE_DIRS_ENV) or str(REPO_DIR.parent / "shared" / "src")
    return Path(directory) / pin.source


def verify_archive(pin: OpenBao) -> Path:
    """Return the archive's path; raise `InfraError` if it is missing or not the pinned content."""
    archive = archive_path(pin)
    if not archive.is_file():
        raise InfraError(
            f"openbao: source archive {archive} not found; put {pin.source} (git archive {pin.tag} of "
            f"openbao/openbao) there, or set {SOURCE_DIRS_ENV} to the directory that holds it"
        )
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != pin.sha256:
        raise InfraError(
            f"openbao: {archive} has sha256 {digest}, but lab/pins.toml pins {pin.sha256}; "
            "fetch the pinned archive again, or update the pin if the release changed"
        )
    return archive


def extract(archive: Path, tree: Path) -> None:
    """Unpack `archive` into a fresh `tree` (its files sit at the archive's root)."""
    partial = tree.with_name(tree.name + ".partial")
    for stale in (partial, tree):
        if stale.exists():
            shutil.rmtree(stale)
    partial.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(partial, filter="data")
    partial.replace(tree)


def ldflags(pin: OpenBao) -> str:
    """The version stamp upstream's release build sets (``version.Version`` has no effect: it is ``fullVersion``)."""
    return " ".join(
        [
            "-s",
            "-w",
            f"-X {VERSION_PACKAGE}.fullVersion={pin.version}",
            f"-X {VERSION_PACKAGE}.GitCommit={pin.commit}",
            f"-X {VERSION_PACKAGE}.BuildDate={pin.build_date}",
        ]
    )


def build_env() -> dict[str, str]:
    """Static, module mode (the tree ships no vendor/), and no checksum database for OpenBao's own modules."""
    existing = os.environ.get("GONOSUMDB", "")
    return {
        "CGO_ENABLED": "0",
        "GOFLAGS": "-mod=mod",
        "GOTOOLCHAIN": "local",
        "GONOSUMDB": ",".join(part for part in (existing, "github.com/openbao") if part),
    }


def build(tree: Path, pin: OpenBao, output: Path) -> None:
    """Build ``bao`` in `tree` into `output` (written atomically)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    argv = [toolchain.go(), "build", "-trimpath", "-ldflags", ldflags(pin), "-o", str(partial), "."]
    proc.run(argv, timeout_s=BUILD_TIMEOUT_S, cwd=tree, env=build_env())
    partial.replace(output)
