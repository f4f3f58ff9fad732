"""Build Kubernetes server binaries, and etcd, from Go modules through wrapper modules.

``go install k8s.io/kubernetes/cmd/...@vX`` cannot work: Kubernetes' go.mod replaces its staging modules with
``./staging/...`` paths and requires them at ``v0.0.0``. A *wrapper module* requires the upstream module and replaces
each local-path replacement with the published version of the same module (``k8s.io/api => k8s.io/api v0.34.4``).
The same trick builds etcd's server, whose go.mod replaces its sibling modules with ``../api`` and so on, and
KubeEdge's cloudcore and edgecore, whose in-tree ``github.com/kubeedge/{api,beehive}`` the remote proxy refuses
(``../shared/goproxy`` serves them at the v1.23.1 tag's pseudo-version, see its README).

The wrapper modules are generated into ``lab/cluster/gomod`` (Kubernetes) and ``lab/cluster/gomod-etcd`` (etcd):
``go.mod``, ``go.sum``, ``doc.go`` and a ``//go:build tools`` file blank-importing the ``cmd`` packages. Everything
else (binaries, the Go build cache, logs, JSON reports) goes under
``${XDG_CACHE_HOME:-~/.cache}/edgex-smoke/cluster/``. The Go module cache is the ordinary shared one.

Each run has two measured phases: *download* (resolve the upstream module and the replacement targets, write the
wrapper, ``go mod tidy``, ``go mod download``) and *build* (one ``go build -trimpath -o <dir>/ ...`` per cgo setting,
run offline with ``GOPROXY=off`` under ``nice -n 19`` and ``GOMAXPROCS=2``). Wall time, CPU time, the largest single
process's RSS (``/usr/bin/time -v``) and the summed RSS of the whole process tree (sampled from ``/proc``) are recorded.

Usage::

    python -m lab.cluster.build kubernetes [--version v1.34.4] [--cold] [--with-proxy] [--kubelet-static]
    python -m lab.cluster.build etcd [--version v3.6.16] [--cold]
    python -m lab.cluster.build kubeedge [--version v1.23.1] [--cold]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import proc
from harness.errors import CommandError, InfraError
from lab import toolchain

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
DOWNLOAD_TIMEOUT_S = 1800.0
BUILD_TIMEOUT_S = 3 * 3600.0
GOMAXPROCS = "2"
TIME_BIN = "/usr/bin/time"

K8S_DEFAULT_VERSION = "v1.34.4"
ETCD_DEFAULT_VERSION = "v3.6.16"
# The tags `hack/lib/golang.sh` uses for non-debug release builds.
K8S_TAGS = "selinux,notest,grpcnotrace"

_SEMVER = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
_URL_HOST = re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s]+")
_REPLACE = re.compile(r"^(?P<old>\S+)(?:\s+(?P<oldv>v\S+))?\s*=>\s*(?P<new>\S+)(?:\s+(?P<newv>v\S+))?$")


@dataclass(frozen=True)
class Target:
    """One binary: its name, its main package and whether it is built with cgo."""

    name: str
    package: str
    cgo: bool


@dataclass(frozen=True)
class Paths:
    """Where one wrapper's outputs go; nothing here is inside the repository."""

    root: Path
    label: str
    version: str

    @classmethod
    def default(cls, label: str, version: str) -> Paths:
        """Return the paths under ``${XDG_CACHE_HOME:-~/.cache}/edgex-smoke/cluster``."""
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return cls(Path(base) / "edgex-smoke" / "cluster", label, version)

    @property
    def gocache(self) -> Path:
        """The Go build cache used for this wrapper only, so that a cold build is really cold."""
        return self.root / f"gocache-{self.label}"

    @property
    def bindir(self) -> Path:
        """The directory that receives the binaries."""
        return self.root / "bin" / f"{self.label}-{self.version}"

    @property
    def logs(self) -> Path:
        """Per-step stdout, stderr and ``/usr/bin/time`` output."""
        return self.root / "logs"

    @property
    def reports(self) -> Path:
        """One JSON report per run."""
        return self.root / "reports"


@dataclass
class Step:
    """The measurements of one command."""

    name: str
    argv: list[str]
    wall_s: float
    user_s: float | None = None
    sys_s: float | None = None
    cpu_percent: str | None = None
    max_process_rss_mib: float | None = None
    peak_tree_rss_mib: float | None = None
    log: str | None = None


@dataclass
class Report:
    """Everything one run measured; written as JSON next to the binaries' cache."""

    label: str
    root_module: str
    requested_version: str
    version: str = ""
    replacement_version: str = ""
    go_version: str = ""
    cold: bool = False
    started: str = ""
    loadavg_at_start: str = ""
    refused: list[str] = field(default_factory=list)
    unused_replaces: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    download_s: float = 0.0
    build_s: float = 0.0
    binaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    drift: list[str] = field(default_factory=list)

    def add(self, step: Step, phase: str) -> None:
        """Record `step` and add its wall time to `phase` (``download`` or ``build``)."""
        self.steps.append(step)
        if phase == "download":
            self.download_s += step.wall_s
        else:
            self.build_s += step.wall_s


# --------------------------------------------------------------------------- measuring


def redact(text: str) -> str:
    """Replace every URL's scheme and host in `text` with ``<GOPROXY>``: no registry host goes into a file."""
    return _URL_HOST.sub("<GOPROXY>", text)


def _tree_rss_kib(root_pid: int) -> int:
    """Return the summed RSS, in KiB, of every descendant of `root_pid` (shared pages counted twice)."""
    page_kib = os.sysconf("SC_PAGE_SIZE") // 1024
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path("/proc", entry.name, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # fields[0] is field 3 (state) of proc(5)
        pid = int(entry.name)
        parent[pid] = int(fields[1])
        rss[pid] = int(fields[21]) * page_kib
    total = 0
    for pid, kib in rss.items():
        ancestor = parent.get(pid, 0)
        while ancestor > 1 and ancestor != root_pid:
            ancestor = parent.get(ancestor, 0)
        if ancestor == root_pid:
            total += kib
    return total


class _RssSampler:
    """Samples the summed RSS of this process's descendants once a second, in a thread."""

    def __init__(self, interval_s: float = 1.0) -> None:
        self.peak_kib = 0
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def _loop(self) -> None:
        me = os.getpid()
        while not self._stop.wait(self._interval_s):
            self.peak_kib = max(self.peak_kib, _tree_rss_kib(me))

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _parse_time_v(text: str) -> dict[str, str]:
    """Parse GNU time's ``-v`` output into ``{label: value}``."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        label, sep, value = line.strip().rpartition(": ")
        if sep:
            out[label] = value.strip()
    return out


def run_step(
    name: str,
    argv: Sequence[str],
    *,
    paths: Paths,
    env: Mapping[str, str],
    cwd: Path,
    timeout_s: float,
    check: bool = True,
) -> tuple[Step, proc.Completed]:
    """Run `argv` under ``nice -n 19`` (and GNU time when installed), measuring it.

    Args:
        name: Short step name, also used for the log file names.
        argv: The command.
        paths: Where the logs go.
        env: Variables added to the environment.
        cwd: Working directory.
        timeout_s: Deadline for the command.
        check: Raise `CommandError` on a non-zero exit status.

    Returns:
        The measurements and the completed command.
    """
    paths.logs.mkdir(parents=True, exist_ok=True)
    stem = f"{paths.label}-{paths.version}-{name}"
    time_file = paths.logs / f"{stem}.time"
    wrapped: list[str] = ["nice", "-n", "19"]
    if Path(TIME_BIN).exists():
        wrapped += [TIME_BIN, "-v", "-o", str(time_file)]
    else:
        log.warning("%s missing (apt-get install time): no per-process peak RSS", TIME_BIN)
    wrapped += list(argv)
    log.info("step %s: %s", name, " ".join(argv)[:400])
    started = time.monotonic()
    failure: CommandError | None = None
    with _RssSampler() as sampler:
        try:
            done = proc.run(wrapped, timeout_s=timeout_s, check=check, env=env, cwd=cwd)
        except CommandError as err:
            failure = CommandError(argv, err.returncode, redact(err.stderr_tail))
    wall = time.monotonic() - started
    step = Step(name=name, argv=list(argv), wall_s=round(wall, 1), peak_tree_rss_mib=round(sampler.peak_kib / 1024, 1))
    if time_file.exists():
        measured = _parse_time_v(time_file.read_text())
        step.user_s = float(measured.get("User time (seconds)", "nan"))
        step.sys_s = float(measured.get("System time (seconds)", "nan"))
        step.cpu_percent = measured.get("Percent of CPU this job got")
        step.max_process_rss_mib = round(int(measured.get("Maximum resident set size (kbytes)", "0")) / 1024, 1)
    if failure is not None:
        raise failure
    log_file = paths.logs / f"{stem}.log"
    log_file.write_text(redact(f"$ {' '.join(argv)}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}\n"))
    step.log = str(log_file)
    log.info(
        "step %s: %.1f s wall, user %s s, sys %s s, max process RSS %s MiB, peak tree RSS %s MiB",
        name,
        step.wall_s,
        step.user_s,
        step.sys_s,
        step.max_process_rss_mib,
        step.peak_tree_rss_mib,
    )
    return step, done


def go_env(paths: Paths, *, offline: bool, cgo: bool | None = None, nosumdb: Sequence[str] = ()) -> dict[str, str]:
    """Return the environment for a go command: two procs, this wrapper's build cache, the local toolchain.

    `nosumdb` lists module paths the public checksum database does not know; their hashes are checked
    against the go.sum they come with instead.
    """
    env = {
        "GOMAXPROCS": GOMAXPROCS,
        "GOCACHE": str(paths.gocache),
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "-buildvcs=false",
    }
    if nosumdb:
        given = os.environ.get("GONOSUMDB", "")
        env["GONOSUMDB"] = ",".join(part for part in (given, *nosumdb) if part)
    if offline:
        env["GOPROXY"] = "off"
    if cgo is not None:
        env["CGO_ENABLED"] = "1" if cgo else "0"
    return env


# --------------------------------------------------------------------------- go.mod handling


def _json_stream(text: str) -> Iterator[dict[str, Any]]:
    """Yield each JSON object of the concatenated objects `go mod download -json` prints."""
    decoder = json.JSONDecoder()
    index = 0
    text = text.strip()
    while index < len(text):
        obj, end = decoder.raw_decode(text, index)
        yield obj
        index = end
        while index < len(text) and text[index].isspace():
            index += 1


def _directives(mod_text: str, verb: str) -> list[str]:
    """Return the bodies of every `verb` directive of a go.mod, single-line and block form, comments removed."""
    bodies: list[str] = []
    in_block = False
    for raw in mod_text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if not line:
            continue
        if in_block:
            if line == ")":
                in_block = False
            else:
                bodies.append(line)
        elif line == f"{verb} (":
            in_block = True
        elif line.startswith(f"{verb} "):
            bodies.append(line[len(verb) + 1 :].strip())
    return bodies


def split_replaces(mod_text: str) -> tuple[list[str], list[str]]:
    """Split a go.mod's replace directives into local-path ones (their module paths) and the others (verbatim)."""
    local: list[str] = []
    remote: list[str] = []
    for body in _directives(mod_text, "replace"):
        match = _REPLACE.match(body)
        if match is None:
            raise InfraError(f"go.mod: cannot parse replace directive {body!r}; fix the parser in {__name__}")
        if match["new"].startswith(("./", "../")) and match["newv"] is None:
            local.append(match["old"])
        else:
            remote.append(body)
    return local, remote


def needed_local_replaces(mod_text: str) -> tuple[list[str], list[str]]:
    """Split the local-path replaces into those of required modules and unused ones.

    A replace only matters for a module in the module graph. Kubernetes also replaces sample modules it never
    requires (``k8s.io/sample-cli-plugin``, ``k8s.io/sample-controller``), and the module proxy does not serve
    those, so they are left out of the wrapper.
    """
    local, _ = split_replaces(mod_text)
    required = requirements(mod_text)
    return [p for p in local if p in required], [p for p in local if p not in required]


def requirements(mod_text: str) -> dict[str, str]:
    """Return ``{module: version}`` from a go.mod's require directives."""
    out: dict[str, str] = {}
    for body in _directives(mod_text, "require"):
        parts = body.split()
        if len(parts) >= 2:
            out[parts[0]] = parts[1]
    return out


def render_gomod(module: str, upstream_mod: str, root: str, version: str, local: Mapping[str, str]) -> str:
    """Return a wrapper go.mod for `root` at `version`.

    Args:
        module: The wrapper's own module path.
        upstream_mod: The upstream go.mod text; its go line, godebug, exclude and non-local replace directives are
            copied, because a dependency's are ignored by the go command.
        root: The upstream module path.
        version: The upstream version.
        local: Each module that upstream replaces with a local path, mapped to its published version.
    """
    go_line = next((ln for ln in upstream_mod.splitlines() if ln.startswith("go ")), "go 1.24.0")
    lines = [
        "// Generated by `python -m lab.cluster.build`; do not edit by hand.",
        f"// Wrapper that builds {root} {version} from published modules.",
        "",
        f"module {module}",
        "",
        go_line,
        "",
    ]
    for body in _directives(upstream_mod, "godebug"):
        lines.append(f"godebug {body}")
    lines += ["", f"require {root} {version}", "", "replace ("]
    lines += [f"\t{path} => {path} {local[path]}" for path in sorted(local)]
    _, remote = split_replaces(upstream_mod)
    lines += [f"\t{body}" for body in remote]
    lines.append(")")
    excludes = _directives(upstream_mod, "exclude")
    if excludes:
        lines += ["", "exclude ("] + [f"\t{body}" for body in excludes] + [")"]
    return "\n".join(lines) + "\n"


def render_tools(targets: Sequence[Target]) -> str:
    """Return the ``//go:build tools`` file that pins the main packages for `go mod tidy`."""
    imports = "\n".join(f'\t_ "{t.package}"' for t in sorted(targets, key=lambda t: t.package))
    return (
        "//go:build tools\n\n"
        "// Blank imports of the main packages we build, so that `go mod tidy` records their dependencies.\n"
        "// The tag is never set: main packages cannot really be imported.\n"
        f"package tools\n\nimport (\n{imports}\n)\n"
    )


DOC_GO = (
    "// Package tools is a wrapper module generated by `python -m lab.cluster.build`;\n"
    "// see tools.go for the binaries it builds.\n"
    "package tools\n"
)


def neighbour(version: str) -> str | None:
    """Return the previous patch version of `version`, or None at patch 0."""
    match = _SEMVER.match(version)
    if match is None or match[3] == "0":
        return None
    return f"v{match[1]}.{match[2]}.{int(match[3]) - 1}"


# --------------------------------------------------------------------------- the two wrappers


@dataclass(frozen=True)
class Wrapper:
    """How to build one upstream project from Go modules."""

    label: str
    root: str
    moddir: Path
    module: str
    targets: tuple[Target, ...]
    replacement_version: Callable[[str], str]
    ldflags: Callable[[str, dict[str, dict[str, Any]]], list[str]]
    tags: str = ""
    nosumdb: tuple[str, ...] = ()
    """Module paths the checksum database does not know (see `go_env`)."""
    seed_sum: bool = False
    """Start the wrapper's go.sum from upstream's: the checksum database answers 404 for some of its modules."""
    tidy_flags: tuple[str, ...] = ()


def k8s_staging_version(version: str) -> str:
    """Return the staging modules' version for a Kubernetes version: v1.34.4 -> v0.34.4."""
    match = _SEMVER.match(version)
    if match is None:
        raise InfraError(f"kubernetes version {version!r}: not vMAJOR.MINOR.PATCH; pass e.g. --version v1.34.4")
    return f"v0.{match[2]}.{match[3]}"


def k8s_ldflags(version: str, downloaded: dict[str, dict[str, Any]]) -> list[str]:
    """Return the ``-X`` flags `hack/lib/version.sh` sets, checked against the downloaded sources.

    Args:
        version: The Kubernetes version, e.g. ``v1.34.4``.
        downloaded: ``go mod download -json`` objects by module path (for the source directories and the .info time).
    """
    match = _SEMVER.match(version)
    assert match is not None  # checked by k8s_staging_version
    build_date = "1970-01-01T00:00:00Z"
    info = downloaded.get("k8s.io/kubernetes", {}).get("Info")
    if info:
        build_date = json.loads(Path(info).read_text()).get("Time", build_date)
    values = {
        "gitVersion": version,
        "gitMajor": match[1],
        "gitMinor": match[2],
        "buildDate": build_date,
        # The module proxy does not tell the commit; `archive` is what hack/lib/version.sh uses without git.
        "gitTreeState": "archive",
    }
    flags: list[str] = []
    for module, package in (("k8s.io/component-base", "version"), ("k8s.io/client-go", "pkg/version")):
        source = Path(downloaded[module]["Dir"], package, "base.go").read_text()
        for var, value in values.items():
            if not re.search(rf"^\s*{var}\s+(?:string\b|=)", source, re.MULTILINE):
                raise InfraError(f"{module}/{package}/base.go: no variable {var}; update k8s_ldflags in {__name__}")
            flags.append(f"-X {module}/{package}.{var}={value}")
    return flags


def etcd_ldflags(version: str, downloaded: dict[str, dict[str, Any]]) -> list[str]:
    """Return etcd's ldflags; the version is compiled in, only the git SHA could be set and it is unknown."""
    del version, downloaded
    return []


KUBERNETES = Wrapper(
    label="kubernetes",
    root="k8s.io/kubernetes",
    moddir=HERE / "gomod",
    module="edgex-smoke/lab/cluster/gomod",
    targets=(
        Target("kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver", cgo=False),
        Target("kube-controller-manager", "k8s.io/kubernetes/cmd/kube-controller-manager", cgo=False),
        Target("kube-scheduler", "k8s.io/kubernetes/cmd/kube-scheduler", cgo=False),
        Target("kubelet", "k8s.io/kubernetes/cmd/kubelet", cgo=True),
        Target("kube-proxy", "k8s.io/kubernetes/cmd/kube-proxy", cgo=False),
    ),
    replacement_version=k8s_staging_version,
    ldflags=k8s_ldflags,
    tags=K8S_TAGS,
)

ETCD = Wrapper(
    label="etcd",
    root="go.etcd.io/etcd/server/v3",
    moddir=HERE / "gomod-etcd",
    module="edgex-smoke/lab/cluster/gomod-etcd",
    targets=(Target("etcd", "go.etcd.io/etcd/server/v3", cgo=False),),
    replacement_version=lambda version: version,
    ldflags=etcd_ldflags,
)


KUBEEDGE_DEFAULT_VERSION = "v1.23.1"
KUBEEDGE_IN_TREE = {"v1.23.1": "v0.0.0-20260715120120-1a7ee88d3c61"}
"""KubeEdge version → the pseudo-version at which ../shared/goproxy serves its in-tree api and beehive modules."""
KUBEEDGE_IN_TREE_MODULES = ("github.com/kubeedge/api", "github.com/kubeedge/beehive")


def kubeedge_in_tree_version(version: str) -> str:
    """The version of KubeEdge's in-tree modules for a KubeEdge release; an unknown release is one line with the fix."""
    if version not in KUBEEDGE_IN_TREE:
        raise InfraError(
            f"kubeedge {version}: no known version of its in-tree modules (github.com/kubeedge/api, beehive); "
            f"choose {', '.join(KUBEEDGE_IN_TREE)} or add the pseudo-version to KUBEEDGE_IN_TREE"
        )
    return KUBEEDGE_IN_TREE[version]


def kubeedge_ldflags(version: str, downloaded: dict[str, dict[str, Any]]) -> list[str]:
    """The version KubeEdge's own build stamps in (``keadm version`` and the node status read it)."""
    del downloaded
    return [f"-X github.com/kubeedge/kubeedge/pkg/version.gitVersion={version}"]


KUBEEDGE = Wrapper(
    label="kubeedge",
    root="github.com/kubeedge/kubeedge",
    moddir=HERE / "gomod-kubeedge",
    module="edgex-smoke/lab/cluster/gomod-kubeedge",
    targets=(
        Target("cloudcore", "github.com/kubeedge/kubeedge/cloud/cmd/cloudcore", cgo=False),
        # edgecore's local store is SQLite through mattn/go-sqlite3: without cgo it links, then dies at start-up.
        Target("edgecore", "github.com/kubeedge/kubeedge/edge/cmd/edgecore", cgo=True),
    ),
    replacement_version=kubeedge_in_tree_version,
    ldflags=kubeedge_ldflags,
    nosumdb=KUBEEDGE_IN_TREE_MODULES,
    seed_sum=True,
    # tidy also walks the tests of dependencies; one wants the k8s.io/kube-proxy fork, whose zip is refused.
    # Neither binary needs it.
    tidy_flags=("-e",),
)
WRAPPERS = {"kubernetes": KUBERNETES, "etcd": ETCD, "kubeedge": KUBEEDGE}
DEFAULT_VERSIONS = {
    "kubernetes": K8S_DEFAULT_VERSION,
    "etcd": ETCD_DEFAULT_VERSION,
    "kubeedge": KUBEEDGE_DEFAULT_VERSION,
}


# --------------------------------------------------------------------------- phases


def _download(
    wrapper: Wrapper, paths: Paths, specs: Sequence[str], report: Report, name: str
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Run ``go mod download -json`` on `specs`; return the objects by path and the refusals, verbatim."""
    argv = [toolchain.go(), "mod", "download", "-json", *specs]
    paths.root.mkdir(parents=True, exist_ok=True)
    # Outside any module, so that nothing records sums anywhere.
    step, done = run_step(
        name,
        argv,
        paths=paths,
        env=go_env(paths, offline=False, nosumdb=wrapper.nosumdb),
        cwd=paths.root,
        timeout_s=DOWNLOAD_TIMEOUT_S,
        check=False,
    )
    report.add(step, "download")
    objects = {obj["Path"]: obj for obj in _json_stream(done.stdout)} if done.stdout.strip() else {}
    refused = [
        redact(f"$ {' '.join(argv[:4])} {obj['Path']}@{obj['Version']}: {obj['Error']}")
        for obj in objects.values()
        if obj.get("Error")
    ]
    if done.returncode != 0 and not refused:
        refused.append(redact(f"$ {' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()}"))
    return objects, refused


def resolve(wrapper: Wrapper, version: str, report: Report) -> tuple[str, dict[str, dict[str, Any]], str]:
    """Find a served version: the requested one, else its previous patch.

    Returns:
        The version used, the download objects (root and replacement targets) and the root's go.mod text.

    Raises:
        InfraError: Neither version is served in full; the message quotes every refusal verbatim.
    """
    candidates = [version] + [v for v in (neighbour(version),) if v]
    for candidate in candidates:
        paths = Paths.default(wrapper.label, candidate)
        objects, refused = _download(wrapper, paths, [f"{wrapper.root}@{candidate}"], report, "download-root")
        if not refused:
            upstream_mod = Path(objects[wrapper.root]["GoMod"]).read_text()
            local, unused = needed_local_replaces(upstream_mod)
            report.unused_replaces = unused
            replacement = wrapper.replacement_version(candidate)
            specs = [f"{path}@{replacement}" for path in local]
            if specs:
                more, refused = _download(wrapper, paths, specs, report, "download-replacements")
                objects.update(more)
            if not refused:
                report.version, report.replacement_version = candidate, replacement
                log.info("%s %s: %d local replaces -> %s", wrapper.root, candidate, len(local), replacement)
                return candidate, objects, upstream_mod
        report.refused += refused
        log.warning("%s %s refused: %s", wrapper.root, candidate, "; ".join(refused))
    raise InfraError(
        f"{wrapper.root}: the module proxy refused {' and '.join(candidates)}: " + " | ".join(report.refused)
    )


def write_wrapper(wrapper: Wrapper, upstream_mod: str, version: str) -> None:
    """Write the wrapper's go.mod, doc.go and tools.go (go.sum is kept and completed by tidy).

    tools.go always lists every target of the wrapper, whatever this run builds, so go.mod and go.sum stay stable.
    """
    local, _ = needed_local_replaces(upstream_mod)
    replacement = wrapper.replacement_version(version)
    wrapper.moddir.mkdir(parents=True, exist_ok=True)
    gomod = render_gomod(wrapper.module, upstream_mod, wrapper.root, version, dict.fromkeys(local, replacement))
    (wrapper.moddir / "go.mod").write_text(gomod)
    (wrapper.moddir / "doc.go").write_text(DOC_GO)
    (wrapper.moddir / "tools.go").write_text(render_tools(wrapper.targets))


def seed_go_sum(wrapper: Wrapper, upstream_sum: str) -> None:
    """Add upstream's go.sum lines to the wrapper's (kept in order, no line twice)."""
    path = wrapper.moddir / "go.sum"
    lines = path.read_text().splitlines() if path.exists() else []
    merged = dict.fromkeys([*lines, *upstream_sum.splitlines()])
    path.write_text("\n".join(line for line in merged if line.strip()) + "\n")


def tidy(wrapper: Wrapper, paths: Paths, upstream_mod: str, report: Report) -> None:
    """`go mod tidy` and `go mod download` in the wrapper (network), then compare versions with upstream's go.mod."""
    env = go_env(paths, offline=False, nosumdb=wrapper.nosumdb)
    tidy_env = {**env, "GOFLAGS": env["GOFLAGS"] + " -mod=mod"} if wrapper.seed_sum else env
    step, _ = run_step(
        "tidy",
        [toolchain.go(), "mod", "tidy", *wrapper.tidy_flags],
        paths=paths,
        env=tidy_env,
        cwd=wrapper.moddir,
        timeout_s=DOWNLOAD_TIMEOUT_S,
    )
    report.add(step, "download")
    step, _ = run_step(
        "mod-download",
        [toolchain.go(), "mod", "download"],
        paths=paths,
        env=env,
        cwd=wrapper.moddir,
        timeout_s=DOWNLOAD_TIMEOUT_S,
    )
    report.add(step, "download")
    step, done = run_step(
        "list-modules",
        [toolchain.go(), "list", "-m", "-f", "{{.Path}} {{.Version}}", "all"],
        paths=paths,
        env=env,
        cwd=wrapper.moddir,
        timeout_s=DOWNLOAD_TIMEOUT_S,
    )
    report.add(step, "download")
    chosen = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    local, _ = needed_local_replaces(upstream_mod)
    for path, wanted in sorted(requirements(upstream_mod).items()):
        got = chosen.get(path)
        if path not in local and got is not None and got != wanted:
            report.drift.append(f"{path}: upstream {wanted}, wrapper {got}")
    if report.drift:
        log.warning("wrapper versions differ from upstream go.mod: %s", "; ".join(report.drift))


def build(
    wrapper: Wrapper, paths: Paths, targets: Sequence[Target], objects: dict[str, dict[str, Any]], report: Report
) -> None:
    """Build `targets` offline: one `go build` per cgo setting, static group first."""
    paths.bindir.mkdir(parents=True, exist_ok=True)
    ldflags = " ".join([*wrapper.ldflags(report.version, objects), "-s", "-w"])
    for cgo in (False, True):
        group = [t for t in targets if t.cgo is cgo]
        if not group:
            continue
        argv = [toolchain.go(), "build", "-trimpath"]
        if wrapper.tags:
            argv += ["-tags", wrapper.tags]
        argv += ["-ldflags", ldflags, "-o", f"{paths.bindir}/", *[t.package for t in group]]
        name = "build-" + ("cgo" if cgo else "static") + "-" + "+".join(t.name for t in group)
        step, _ = run_step(
            name,
            argv,
            paths=paths,
            env=go_env(paths, offline=True, cgo=cgo),
            cwd=wrapper.moddir,
            timeout_s=BUILD_TIMEOUT_S,
        )
        report.add(step, "build")
        for target in group:
            built = paths.bindir / go_binary_name(target.package)
            if built.name != target.name:
                built.replace(paths.bindir / target.name)


def go_binary_name(package: str) -> str:
    """Return the file name `go build -o dir/` gives a main package (``.../server/v3`` -> ``server``)."""
    parts = package.split("/")
    if len(parts) > 1 and re.fullmatch(r"v\d+", parts[-1]):
        return parts[-2]
    return parts[-1]


def elf_interpreter(path: Path) -> str | None:
    """Return the ELF program interpreter of `path` (None for a static binary)."""
    with path.open("rb") as f:
        header = f.read(64)
        if header[:4] != b"\x7fELF" or header[4] != 2:
            raise InfraError(f"{path}: not a 64-bit ELF file")
        (phoff,) = struct.unpack_from("<Q", header, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", header, 0x36)
        for index in range(phnum):
            f.seek(phoff + index * phentsize)
            p_type, _, p_offset, _, _, p_filesz = struct.unpack("<IIQQQQ", f.read(40))
            if p_type == 3:  # PT_INTERP
                f.seek(p_offset)
                return f.read(p_filesz).rstrip(b"\0").decode()
    return None


def inspect_binaries(paths: Paths, targets: Sequence[Target], report: Report) -> None:
    """Record size, linking and ``--version`` output of each built binary."""
    for target in targets:
        binary = paths.bindir / target.name
        done = proc.run([str(binary), "--version"], timeout_s=60, check=False)
        report.binaries[target.name] = {
            "path": str(binary),
            "size_mib": round(binary.stat().st_size / 2**20, 1),
            "interpreter": elf_interpreter(binary),
            "version_output": (done.stdout + done.stderr).strip().splitlines()[:3],
        }


def run(wrapper: Wrapper, version: str, targets: Sequence[Target], *, cold: bool, build_binaries: bool) -> Report:
    """Download, write the wrapper, tidy and (unless told not to) build; return the measurements."""
    report = Report(label=wrapper.label, root_module=wrapper.root, requested_version=version, cold=cold)
    report.started = datetime.now(UTC).isoformat(timespec="seconds")
    report.loadavg_at_start = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    report.go_version = proc.run([toolchain.go(), "version"], timeout_s=60, env={"GOTOOLCHAIN": "local"}).stdout.strip()
    version, objects, upstream_mod = resolve(wrapper, version, report)
    paths = Paths.default(wrapper.label, version)
    if cold:
        # The binaries too: go build skips the link when an existing output already has the expected build ID.
        for stale in (paths.gocache, paths.bindir):
            if stale.exists():
                log.info("cold build: removing %s", stale)
                shutil.rmtree(stale)
    write_wrapper(wrapper, upstream_mod, version)
    if wrapper.seed_sum:
        seed_go_sum(wrapper, (Path(objects[wrapper.root]["Dir"]) / "go.sum").read_text())
    tidy(wrapper, paths, upstream_mod, report)
    if build_binaries:
        build(wrapper, paths, targets, objects, report)
        inspect_binaries(paths, targets, report)
    paths.reports.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = paths.reports / f"{wrapper.label}-{version}-{stamp}.json"
    out.write_text(json.dumps(asdict(report), indent=2) + "\n")
    log.info("report: %s", out)
    return report


def select_targets(wrapper: Wrapper, names: str | None, *, with_proxy: bool, kubelet_static: bool) -> list[Target]:
    """Return the targets to build: the named ones, else all but kube-proxy (unless `with_proxy`)."""
    known = {t.name: t for t in wrapper.targets}
    if names:
        wanted = [n.strip() for n in names.split(",") if n.strip()]
        unknown = sorted(set(wanted) - set(known))
        if unknown:
            raise InfraError(f"--components: unknown {', '.join(unknown)}; choose from {', '.join(known)}")
    else:
        wanted = [n for n in known if n != "kube-proxy" or with_proxy]
    chosen = [known[n] for n in wanted]
    if kubelet_static:
        chosen = [Target(t.name, t.package, cgo=False) if t.name == "kubelet" else t for t in chosen]
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m lab.cluster.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("project", choices=sorted(WRAPPERS))
    parser.add_argument("--version", help=f"default: {DEFAULT_VERSIONS}")
    parser.add_argument("--components", help="comma-separated binary names (default: all but kube-proxy)")
    parser.add_argument("--with-proxy", action="store_true", help="also build kube-proxy (in the static go build)")
    parser.add_argument(
        "--kubelet-static", action="store_true", help="build kubelet with CGO_ENABLED=0, in the static go build"
    )
    parser.add_argument("--cold", action="store_true", help="empty this wrapper's Go build cache and binaries first")
    parser.add_argument("--no-build", action="store_true", help="only download and write the wrapper module")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    wrapper = WRAPPERS[args.project]
    version = args.version or DEFAULT_VERSIONS[args.project]
    try:
        targets = select_targets(
            wrapper, args.components, with_proxy=args.with_proxy, kubelet_static=args.kubelet_static
        )
        report = run(wrapper, version, targets, cold=args.cold, build_binaries=not args.no_build)
    except InfraError as err:
        log.error("%s", err)
        return 1
    print(json.dumps(asdict(report), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
