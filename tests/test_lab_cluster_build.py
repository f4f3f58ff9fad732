"""The wrapper modules that build Kubernetes, etcd and KubeEdge from published Go modules: the pure parts."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import InfraError
from lab.cluster import build

KUBEEDGE_GO_MOD = """module github.com/kubeedge/kubeedge

go 1.23.12

require (
\tgithub.com/kubeedge/api v0.0.0
\tgithub.com/kubeedge/beehive v0.0.0
\tk8s.io/api v0.32.10
)

replace (
\tgithub.com/kubeedge/api => ./staging/src/github.com/kubeedge/api
\tgithub.com/kubeedge/beehive => ./staging/src/github.com/kubeedge/beehive
\tk8s.io/api => github.com/kubeedge/kubernetes/staging/src/k8s.io/api v1.32.10-kubeedge1
\tk8s.io/unused => ./staging/src/k8s.io/unused
)
"""


def test_the_kubeedge_wrapper_replaces_its_in_tree_modules_with_the_served_pseudo_version() -> None:
    version = build.kubeedge_in_tree_version("v1.23.1")
    local, unused = build.needed_local_replaces(KUBEEDGE_GO_MOD)
    assert (local, unused) == (list(build.KUBEEDGE_IN_TREE_MODULES), ["k8s.io/unused"])
    gomod = build.render_gomod(
        build.KUBEEDGE.module, KUBEEDGE_GO_MOD, build.KUBEEDGE.root, "v1.23.1", dict.fromkeys(local, version)
    )
    assert "require github.com/kubeedge/kubeedge v1.23.1" in gomod
    assert f"\tgithub.com/kubeedge/api => github.com/kubeedge/api {version}" in gomod
    assert f"\tgithub.com/kubeedge/beehive => github.com/kubeedge/beehive {version}" in gomod
    # Replaces in a dependency are ignored: the fork replaces are copied into the wrapper.
    assert "\tk8s.io/api => github.com/kubeedge/kubernetes/staging/src/k8s.io/api v1.32.10-kubeedge1" in gomod
    assert "go 1.23.12" in gomod


def test_an_unknown_kubeedge_release_names_the_known_ones() -> None:
    with pytest.raises(InfraError, match=r"kubeedge v1\.99\.0: no known version of its in-tree modules .* v1\.23\.1"):
        build.kubeedge_in_tree_version("v1.99.0")


def test_kubeedge_binaries_carry_their_release() -> None:
    assert build.kubeedge_ldflags("v1.23.1", {}) == ["-X github.com/kubeedge/kubeedge/pkg/version.gitVersion=v1.23.1"]
    assert {(t.name, t.cgo) for t in build.KUBEEDGE.targets} == {("cloudcore", False), ("edgecore", True)}


def test_the_seeded_go_sum_keeps_the_wrappers_lines_and_adds_upstreams_once(tmp_path: Path) -> None:
    wrapper = build.Wrapper(
        label="w",
        root="example.com/root",
        moddir=tmp_path,
        module="edgex-smoke/w",
        targets=(),
        replacement_version=lambda v: v,
        ldflags=lambda _v, _d: [],
    )
    (tmp_path / "go.sum").write_text("a v1 h1:x\nb v1 h1:y\n")
    build.seed_go_sum(wrapper, "b v1 h1:y\nc v1 h1:z\n")
    assert (tmp_path / "go.sum").read_text() == "a v1 h1:x\nb v1 h1:y\nc v1 h1:z\n"


def test_go_env_adds_the_unknown_modules_to_gonosumdb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONOSUMDB", "example.com/private")
    paths = build.Paths(tmp_path, "kubeedge", "v1.23.1")
    env = build.go_env(paths, offline=False, nosumdb=build.KUBEEDGE_IN_TREE_MODULES)
    assert env["GONOSUMDB"] == "example.com/private,github.com/kubeedge/api,github.com/kubeedge/beehive"
    assert "GONOSUMDB" not in build.go_env(paths, offline=True)
