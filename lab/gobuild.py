"""Build EdgeX binaries from the wrapper module with the machine's Go toolchain."""

from __future__ import annotations

from pathlib import Path

from harness import proc
from harness.errors import InfraError
from lab.pins import Service

DOWNLOAD_TIMEOUT_S = 1800.0
BUILD_TIMEOUT_S = 1800.0
QUERY_TIMEOUT_S = 120.0
GO_PACKAGE = "golang-go"


def _env() -> dict[str, str]:
    """Static binaries; ``-mod=readonly`` so that a build never edits the committed go.mod or go.sum."""
    return {"CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly"}


def go_version() -> str:
    """Return the toolchain's version, e.g. ``go1.26.8`` (part of every build step's key)."""
    return proc.run(["go", "env", "GOVERSION"], timeout_s=QUERY_TIMEOUT_S, package=GO_PACKAGE).stdout.strip()


def download(gomod: Path) -> None:
    """Fetch every module of the wrapper's build list through the configured Go proxy."""
    proc.run(["go", "mod", "download"], timeout_s=DOWNLOAD_TIMEOUT_S, cwd=gomod, env=_env(), package=GO_PACKAGE)


def module_dir(gomod: Path, module_path: str) -> Path:
    """Return the (read-only) module cache directory of `module_path` as the wrapper resolves it."""
    done = proc.run(
        ["go", "list", "-m", "-f", "{{.Dir}}", module_path],
        timeout_s=QUERY_TIMEOUT_S,
        cwd=gomod,
        env=_env(),
        package=GO_PACKAGE,
    )
    directory = Path(done.stdout.strip())
    if not done.stdout.strip() or not directory.is_dir():
        raise InfraError(
            f"go list -m {module_path}: module directory {done.stdout.strip()!r} is missing; "
            "run 'python -m lab images' to download the modules"
        )
    return directory


def build_argv(service: Service, version: str, output: Path) -> list[str]:
    """Return the ``go build`` command line of `service`, reporting `version` on /api/v3/version."""
    ldflags = ["-s", "-w", *(f"-X {var}={version}" for var in service.version_vars)]
    argv = ["go", "build", "-trimpath", "-buildvcs=false"]
    if service.tags:
        argv.append("-tags=" + ",".join(service.tags))
    return [*argv, "-ldflags=" + " ".join(ldflags), "-o", str(output), service.package]


def build(gomod: Path, service: Service, version: str, output: Path) -> None:
    """Build `service` into `output` (written atomically)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    proc.run(
        build_argv(service, version, partial),
        timeout_s=BUILD_TIMEOUT_S,
        cwd=gomod,
        env=_env(),
        package=GO_PACKAGE,
    )
    partial.replace(output)
