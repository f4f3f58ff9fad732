"""The k3s, microk8s and kubeedge drivers: recorded command lines, preflight lines and teardown ownership.

The argument-list tests prove the commands are the ones we intend to run; they do
not prove that K3s, MicroK8s or KubeEdge work with them (only a run on a host
with that distro, such as the nightly matrix, shows that). On this machine none
of the three exists or can be installed, so every driver must stop at preflight
with one actionable line: the tests at the end prove that through the real
plugin once the drivers are registered.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import distros
import manifests
from distros import _ctr_exec, _host, _sideload, k3s, kubeedge, local_cluster, microk8s
from distros._protocol import DistroSettings, Target
from harness import proc
from harness.errors import InfraError, PreflightError
from harness.vocabulary import ExitCode

ROOT = Path(__file__).resolve().parent.parent


# -- doubles -----------------------------------------------------------------------------------------------


class Recorder:
    """Stands in for `harness.proc.run`: records argv and env, answers from a table of canned outputs."""

    def __init__(self, outputs: dict[str, str] | None = None, fail: Sequence[str] = ()) -> None:
        self.calls: list[tuple[list[str], dict[str, str] | None]] = []
        self.outputs = outputs or {}
        self.fail = fail

    def __call__(self, argv: Sequence[str], *, timeout_s: float, check: bool = True, **kwargs: Any) -> proc.Completed:
        argv = [str(a) for a in argv]
        env = kwargs.get("env")
        self.calls.append((argv, dict(env) if env is not None else None))
        joined = " ".join(argv)
        code = 1 if any(word in joined for word in self.fail) else 0
        stdout = next((out for key, out in self.outputs.items() if key in joined), "")
        return proc.Completed(argv=tuple(argv), returncode=code, stdout=stdout, stderr="")

    @property
    def argvs(self) -> list[list[str]]:
        return [argv for argv, _ in self.calls]


class FakeKube:
    context = "fake"
    server = "https://127.0.0.1:6443"

    def __init__(self, nodes: list[dict[str, Any]] | None = None) -> None:
        self._nodes = nodes or []

    def check_reachable(self) -> dict[str, Any]:
        return {"gitVersion": "v1.32.5+k3s1"}

    def nodes(self) -> list[dict[str, Any]]:
        return self._nodes

    def pods(self, namespace: str) -> list[dict[str, Any]]:
        return []

    def close(self) -> None:
        pass


class FakeWorkload:
    def __init__(self, kube: FakeKube | None = None) -> None:
        self.kube = kube or FakeKube()
        self.closed = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def settings(tmp_path: Path) -> DistroSettings:
    return DistroSettings(run_id="r1", work_dir=tmp_path / "work")


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    fake = Recorder()
    monkeypatch.setattr(proc, "run", fake)
    return fake


def _one_line(err: BaseException, *fragments: str) -> str:
    message = str(err)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def _unreachable_kubeconfig(tmp_path: Path) -> Path:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = tmp_path / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "ctx",
            }
        )
    )
    return path


def _empty_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """PATH with only an empty directory: no k3s, microk8s, snap, keadm or ctr."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


def _executable(directory: Path, name: str, text: str = "#!/bin/sh\nexit 0\n") -> Path:
    path = directory / name
    path.write_text(text)
    path.chmod(0o755)
    return path


# -- _cluster: references, images, host helpers -------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("postgres:18.1-alpine3.22", "docker.io/library/postgres:18.1-alpine3.22"),
        ("edgexfoundry/core-data:4.0.2", "docker.io/edgexfoundry/core-data:4.0.2"),
        ("localhost/edgex-smoke-lab/core-data:4.0", "localhost/edgex-smoke-lab/core-data:4.0"),
        ("mirror.example:5000/edge/library/nginx:1", "mirror.example:5000/edge/library/nginx:1"),
        ("registry.example/x:1", "registry.example/x:1"),
    ],
)
def test_normalize_ref_matches_runtime_names(ref: str, expected: str) -> None:
    assert manifests.runtime_reference(ref) == expected


MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
CTR_LIST = "\n".join(  # `ctr images list` as containerd 1.6 prints it (SIZE has a space; LABELS last, "-" if none)
    [
        "REF TYPE DIGEST SIZE PLATFORMS LABELS",
        f"docker.io/library/postgres:18 {MANIFEST} sha256:aa 100.0 MiB linux/amd64 io.cri-containerd.image=managed",
        f"localhost/lab/a:1 {MANIFEST} sha256:bb 10.0 MiB linux/amd64 "
        "io.cri-containerd.image=managed,io.edgex-smoke.podman-image-id=OLD",
        f"localhost/lab/c:1 {MANIFEST} sha256:cc 1.0 KiB linux/amd64 io.edgex-smoke.podman-image-id=SAME",
        f"sha256:0123 {MANIFEST} sha256:aa 100.0 MiB linux/amd64 -",
    ]
)


def test_parse_image_list_reads_names_and_labels_and_drops_digest_aliases() -> None:
    assert _sideload.parse_image_list(CTR_LIST) == {
        "docker.io/library/postgres:18": {"io.cri-containerd.image": "managed"},
        "localhost/lab/a:1": {"io.cri-containerd.image": "managed", _sideload.SOURCE_ID_LABEL: "OLD"},
        "localhost/lab/c:1": {_sideload.SOURCE_ID_LABEL: "SAME"},
    }


def test_save_image_argv_writes_a_docker_archive() -> None:
    assert _sideload.save_image_argv("localhost/a:1", Path("/w/a.tar")) == [
        "podman",
        "save",
        "--format",
        "docker-archive",
        "--output",
        "/w/a.tar",
        "localhost/a:1",
    ]


def test_journal_argv_is_bounded_and_pagerless() -> None:
    assert _host.journal_argv("k3s", lines=10) == [
        "journalctl",
        "--unit",
        "k3s",
        "--no-pager",
        "--output",
        "short-iso",
        "--lines",
        "10",
    ]


def test_label_safe_makes_node_names() -> None:
    assert _host.label_safe("Build_Host.local") == "build-host-local"
    assert len(_host.label_safe("x" * 100)) == 63


def test_side_load_imports_what_changed_keeps_what_is_there_pulls_upstream_and_names_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, recorder: Recorder, tmp_path: Path
) -> None:
    recorder.outputs = {"images list": CTR_LIST}
    recorder.fail = ["pull docker.io/library/nginx"]
    in_podman = {"localhost/lab/a:1": "NEW", "localhost/lab/c:1": "SAME"}
    monkeypatch.setattr(_sideload, "podman_image_id", in_podman.get)
    refs = ["postgres:18", "localhost/lab/a:1", "localhost/lab/c:1", "eclipse-mosquitto:2", "nginx:1"]
    refs.append("localhost/lab/b:1")
    with pytest.raises(PreflightError) as excinfo:
        _sideload.side_load(refs, k3s.node_runtime("k3s"), subject="k3s", work_dir=tmp_path, progress=lambda _: None)
    _one_line(excinfo.value, "k3s: 2 image(s) missing", "nginx:1, localhost/lab/b:1", "--images lab")
    argvs = recorder.argvs
    assert argvs[0] == ["k3s", "ctr", "--namespace", "k8s.io", "images", "list"]
    # a:1 is on the node from an older podman image: saved, imported and labelled anew
    assert argvs[1][:5] == ["podman", "save", "--format", "docker-archive", "--output"]
    assert argvs[1][-1] == "localhost/lab/a:1"
    assert argvs[2][:6] == ["k3s", "ctr", "--namespace", "k8s.io", "images", "import"]
    assert argvs[2][-1] == argvs[1][5]  # the archive podman wrote
    label = ["images", "label", "localhost/lab/a:1", f"{_sideload.SOURCE_ID_LABEL}=NEW"]
    assert argvs[3] == ["k3s", "ctr", "--namespace", "k8s.io", *label]
    # c:1 is there from the same podman image, postgres:18 is there: skipped
    assert argvs[4] == ["k3s", "crictl", "pull", "docker.io/library/eclipse-mosquitto:2"]
    assert argvs[5] == ["k3s", "crictl", "pull", "docker.io/library/nginx:1"]
    assert len(argvs) == 6  # localhost/lab/b:1 is never pulled


# -- k3s -----------------------------------------------------------------------------------------------------


def test_k3s_install_runs_the_official_installer_pinned_without_traefik_and_servicelb() -> None:
    assert k3s.install_argv(Path("/w/install.sh")) == ["sh", "/w/install.sh"]
    assert k3s.install_env("v1.32.5+k3s1", airgap=False) == {
        "INSTALL_K3S_VERSION": "v1.32.5+k3s1",
        "INSTALL_K3S_EXEC": "--disable=traefik --disable=servicelb --write-kubeconfig-mode=644",
    }


def test_k3s_airgap_install_skips_the_download() -> None:
    assert k3s.install_env("v1.32.5+k3s1", airgap=True) == {
        "INSTALL_K3S_SKIP_DOWNLOAD": "true",
        "INSTALL_K3S_EXEC": "--disable=traefik --disable=servicelb --write-kubeconfig-mode=644",
    }


def test_k3s_image_commands() -> None:
    runtime = k3s.node_runtime("/usr/local/bin/k3s")
    assert runtime.import_argv(Path("/w/i.tar")) == [
        "/usr/local/bin/k3s",
        "ctr",
        "--namespace",
        "k8s.io",
        "images",
        "import",
        "/w/i.tar",
    ]
    assert runtime.list_argv() == ["/usr/local/bin/k3s", "ctr", "--namespace", "k8s.io", "images", "list"]
    assert runtime.pull_argv("x:1") == ["/usr/local/bin/k3s", "crictl", "pull", "docker.io/library/x:1"]
    assert k3s.uninstall_argv() == ["/usr/local/bin/k3s-uninstall.sh"]
    assert str(k3s.AGENT_IMAGES_DIR) == "/var/lib/rancher/k3s/agent/images"


def test_k3s_version_parsing() -> None:
    assert k3s.parse_version("k3s version v1.32.5+k3s1 (8e8f2a47)\ngo version go1.23.8\n") == "v1.32.5+k3s1"
    assert k3s.parse_version("nonsense") is None


def test_k3s_airgap_directory_layout(tmp_path: Path) -> None:
    for name in ("k3s", "install.sh", "k3s-airgap-images-amd64.tar.zst", "extra.tar", "README"):
        (tmp_path / name).write_text("x")
    binary, script, tarballs = k3s.airgap_files(tmp_path)
    assert binary == tmp_path / "k3s"
    assert script == tmp_path / "install.sh"
    assert [t.name for t in tarballs] == ["extra.tar", "k3s-airgap-images-amd64.tar.zst"]


def test_k3s_config_from_env() -> None:
    assert k3s.K3sConfig.from_env({}) == k3s.K3sConfig(version=k3s.DEFAULT_VERSION)
    config = k3s.K3sConfig.from_env(
        {k3s.ENV_VERSION: "v1.33.1+k3s1", k3s.ENV_INSTALLER: "/opt/install.sh", k3s.ENV_AIRGAP_DIR: "/opt/k3s"}
    )
    assert config == k3s.K3sConfig(version="v1.33.1+k3s1", installer="/opt/install.sh", airgap_dir=Path("/opt/k3s"))


@pytest.mark.parametrize(
    "case",
    [
        (False, True, "/nonexistent", "(not root)"),
        (True, False, None, "(this host has neither systemd nor OpenRC, which the official installer needs)"),
        (True, True, None, f"(no network to the official installer: {k3s.ENV_INSTALLER} names no installer script"),
        (True, True, "http://127.0.0.1:9/install.sh", "(no network to the official installer: http://127.0.0.1:9/"),
        (True, True, "/nonexistent/install.sh", "/nonexistent/install.sh does not exist)"),
    ],
)
def test_k3s_preflight_says_why_it_may_not_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: DistroSettings, case: tuple[bool, bool, str | None, str]
) -> None:
    root, systemd, installer, reason = case
    _empty_path(monkeypatch, tmp_path)
    monkeypatch.setattr(_host, "is_root", lambda: root)
    monkeypatch.setattr(_host, "has_systemd", lambda: systemd)
    monkeypatch.setattr(_host, "has_openrc", lambda: False)
    driver = k3s.K3sDistro(settings, k3s.K3sConfig(installer=installer))
    with pytest.raises(PreflightError) as excinfo:
        driver.preflight([])
    message = _one_line(excinfo.value, "k3s: 'k3s' is not on PATH and this run may not install it ", reason)
    assert message.endswith(f"; install k3s {k3s.DEFAULT_VERSION} or pass --kubeconfig to attach")


def test_k3s_preflight_attaches_with_a_kubeconfig_and_names_an_unreachable_server(tmp_path: Path) -> None:
    settings = DistroSettings(run_id="r1", work_dir=tmp_path, kubeconfig=_unreachable_kubeconfig(tmp_path))
    with pytest.raises(PreflightError) as excinfo:
        k3s.K3sDistro(settings, k3s.K3sConfig()).preflight([])
    _one_line(excinfo.value, "k3s: ", "does not answer", "--kubeconfig")


def test_k3s_install_records_the_installer_run(
    monkeypatch: pytest.MonkeyPatch, recorder: Recorder, tmp_path: Path, settings: DistroSettings
) -> None:
    installer = tmp_path / "install.sh"
    installer.write_text("#!/bin/sh\n")
    driver = k3s.K3sDistro(settings, k3s.K3sConfig(installer=str(installer)))
    driver._plan = "install"
    monkeypatch.setattr(k3s, "KUBECONFIG", tmp_path)  # "readable" at once
    monkeypatch.setattr(driver, "_workload", FakeWorkload)
    target = driver.up()
    assert target.created is True and target.mode == "provisioned"
    ((argv, env),) = recorder.calls
    assert argv == ["sh", str(settings.work_dir / "k3s" / "install.sh")]
    assert env == k3s.install_env(k3s.DEFAULT_VERSION, airgap=False)


def test_k3s_down_uninstalls_only_what_this_run_installed_once(
    monkeypatch: pytest.MonkeyPatch, recorder: Recorder, tmp_path: Path, settings: DistroSettings
) -> None:
    script = tmp_path / "k3s-uninstall.sh"
    script.write_text("#!/bin/sh\n")
    monkeypatch.setattr(k3s, "UNINSTALL_SCRIPT", script)
    driver = k3s.K3sDistro(settings, k3s.K3sConfig())
    attached = Target(distro="k3s", name="n", mode="attached", created=False)
    driver.down(attached)
    assert recorder.calls == []
    driver._installed = True
    created = Target(distro="k3s", name="n", mode="provisioned", created=True)
    driver.down(created)
    driver.down(created)
    assert recorder.argvs == [[str(script)]]


# -- microk8s ------------------------------------------------------------------------------------------------


def test_microk8s_commands() -> None:
    assert microk8s.install_argv("1.32/stable") == [
        "snap",
        "install",
        "microk8s",
        "--classic",
        "--channel=1.32/stable",
    ]
    assert microk8s.remove_argv() == ["snap", "remove", "microk8s", "--purge"]
    assert microk8s.status_argv(300) == ["microk8s", "status", "--wait-ready", "--timeout", "300"]
    assert microk8s.enable_argv() == ["microk8s", "enable", "dns", "hostpath-storage"]
    assert microk8s.enable_argv("10.0.0.1") == ["microk8s", "enable", "dns:10.0.0.1", "hostpath-storage"]
    assert microk8s.config_argv() == ["microk8s", "config"]
    assert microk8s.NODE_RUNTIME.import_argv(Path("/w/i.tar")) == ["microk8s", "images", "import", "/w/i.tar"]
    assert microk8s.NODE_RUNTIME.list_argv() == ["microk8s", "ctr", "--namespace", "k8s.io", "images", "list"]
    assert microk8s.NODE_RUNTIME.pull_argv("docker.io/library/x:1") == [
        "microk8s",
        "ctr",
        "--namespace",
        "k8s.io",
        "images",
        "pull",
        "docker.io/library/x:1",
    ]
    assert microk8s.inspect_argv() == ["microk8s", "inspect"]
    assert microk8s.snap_list_argv() == ["snap", "list", "microk8s"]


def test_microk8s_snap_list_parsing() -> None:
    text = (
        "Name      Version  Rev   Tracking     Publisher   Notes\n"
        "microk8s  v1.32.3  7964  1.32/stable  canonical✓  classic\n"
    )
    assert microk8s.parse_snap_list(text) == {"version": "v1.32.3", "revision": "7964", "channel": "1.32/stable"}
    assert microk8s.parse_snap_list("error: no matching snaps installed\n") == {}


def test_microk8s_inspect_tarball_parsing() -> None:
    text = (
        "Building the report tarball\n"
        "  Report tarball is at /var/snap/microk8s/7964/inspection-report-20260101_020304.tar.gz\n"
    )
    assert microk8s.parse_inspect_tarball(text) == Path(
        "/var/snap/microk8s/7964/inspection-report-20260101_020304.tar.gz"
    )
    assert microk8s.parse_inspect_tarball("FAIL: Service snap.microk8s.daemon-kubelite is not running\n") is None


@pytest.mark.parametrize(
    "case",
    [
        (False, False, "(not root)"),
        (True, False, "(no 'snap' command: snapd is not installed)"),
        (True, True, "(snapd needs systemd, which this host does not run)"),
    ],
)
def test_microk8s_preflight_says_why_it_may_not_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: DistroSettings, case: tuple[bool, bool, str]
) -> None:
    root, snap, reason = case
    bin_dir = _empty_path(monkeypatch, tmp_path)
    if snap:
        _executable(bin_dir, "snap")
    monkeypatch.setattr(_host, "is_root", lambda: root)
    monkeypatch.setattr(_host, "has_systemd", lambda: False)
    with pytest.raises(PreflightError) as excinfo:
        microk8s.MicroK8sDistro(settings, microk8s.MicroK8sConfig()).preflight([])
    message = _one_line(excinfo.value, "microk8s: 'microk8s' is not on PATH and this run may not install it ", reason)
    assert message.endswith(
        "; install MicroK8s with 'snap install microk8s --classic --channel=1.32/stable' or pass --kubeconfig to attach"
    )


def test_microk8s_preflight_names_the_missing_group(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: DistroSettings
) -> None:
    _executable(_empty_path(monkeypatch, tmp_path), "microk8s")
    monkeypatch.setattr(microk8s, "in_group", lambda _name: False)
    with pytest.raises(PreflightError) as excinfo:
        microk8s.MicroK8sDistro(settings, microk8s.MicroK8sConfig()).preflight([])
    _one_line(excinfo.value, "microk8s: this user is not in group 'microk8s'", "usermod -a -G microk8s")


def test_microk8s_install_records_snap_install_ready_gate_addons_and_config(
    monkeypatch: pytest.MonkeyPatch, recorder: Recorder, settings: DistroSettings
) -> None:
    recorder.outputs = {"microk8s config": "apiVersion: v1\nkind: Config\n"}
    driver = microk8s.MicroK8sDistro(settings, microk8s.MicroK8sConfig(dns_upstream="10.0.0.1"))
    driver._plan = "install"
    monkeypatch.setattr(driver, "_workload", FakeWorkload)
    target = driver.up()
    assert target.created is True
    assert recorder.argvs == [
        ["snap", "install", "microk8s", "--classic", "--channel=1.32/stable"],
        ["microk8s", "status", "--wait-ready", "--timeout", str(microk8s.STATUS_TIMEOUT_S)],
        ["microk8s", "enable", "dns:10.0.0.1", "hostpath-storage"],
    ]
    kubeconfig = driver._write_kubeconfig()
    assert recorder.argvs[-1] == ["microk8s", "config"]
    assert kubeconfig.read_text() == "apiVersion: v1\nkind: Config\n"
    assert kubeconfig.stat().st_mode & 0o777 == 0o600


def test_microk8s_down_removes_the_snap_only_if_this_run_installed_it(
    monkeypatch: pytest.MonkeyPatch, recorder: Recorder, tmp_path: Path, settings: DistroSettings
) -> None:
    _executable(_empty_path(monkeypatch, tmp_path), "snap")
    recorder.fail = ["snap list microk8s"]  # gone after the removal
    driver = microk8s.MicroK8sDistro(settings, microk8s.MicroK8sConfig())
    driver.down(Target(distro="microk8s", name="n", mode="provisioned", created=False))
    assert recorder.calls == []
    driver._installed = True
    created = Target(distro="microk8s", name="n", mode="provisioned", created=True)
    driver.down(created)
    driver.down(created)
    assert recorder.argvs == [["snap", "remove", "microk8s", "--purge"], ["snap", "list", "microk8s"]]


# -- kubeedge ------------------------------------------------------------------------------------------------


def test_kubeedge_cloud_commands() -> None:
    kubeconfig = Path("/w/host.kubeconfig")
    assert kubeedge.init_argv("keadm", advertise_address="10.1.2.3", kubeconfig=kubeconfig, version="v1.21.0") == [
        "keadm",
        "init",
        "--advertise-address=10.1.2.3",
        "--kube-config=/w/host.kubeconfig",
        "--kubeedge-version=v1.21.0",
    ]
    assert kubeedge.gettoken_argv("keadm", kubeconfig=kubeconfig) == [
        "keadm",
        "gettoken",
        "--kube-config=/w/host.kubeconfig",
    ]
    assert kubeedge.reset_cloud_argv("keadm", kubeconfig=kubeconfig) == [
        "keadm",
        "reset",
        "cloud",
        "--kube-config=/w/host.kubeconfig",
        "--force",
    ]


def test_kubeedge_join_command_puts_the_token_last_and_installs_no_mqtt() -> None:
    argv = kubeedge.join_argv(
        "keadm",
        cloudcore="10.1.2.3",
        token="SECRET",
        version="v1.21.0",
        node_name="edgex-smoke-edge",
        runtime_endpoint="unix:///run/containerd/containerd.sock",
        cgroup_driver="cgroupfs",
    )
    assert argv == [
        "keadm",
        "join",
        "--cloudcore-ipport=10.1.2.3:10000",
        "--kubeedge-version=v1.21.0",
        "--edgenode-name=edgex-smoke-edge",
        "--remote-runtime-endpoint=unix:///run/containerd/containerd.sock",
        "--cgroupdriver=cgroupfs",
        "--with-mqtt=false",
        "--token=SECRET",
    ]
    assert all("SECRET" not in word for word in argv[:4])  # CommandError shows the first four words
    assert kubeedge.reset_edge_argv("keadm") == ["keadm", "reset", "edge", "--force"]


def test_kubeedge_edge_runtime_commands() -> None:
    endpoint = "unix:///run/containerd/containerd.sock"
    runtime = kubeedge.node_runtime(endpoint)
    assert runtime.import_argv(Path("/w/i.tar")) == [
        "ctr",
        "--address",
        "/run/containerd/containerd.sock",
        "--namespace",
        "k8s.io",
        "images",
        "import",
        "/w/i.tar",
    ]
    assert runtime.list_argv()[-2:] == ["images", "list"]
    assert runtime.pull_argv("docker.io/library/x:1")[-3:] == ["images", "pull", "docker.io/library/x:1"]


def test_kubeedge_version_parsing() -> None:
    text = 'version: version.Info{Major:"1", Minor:"21", GitVersion:"v1.21.0", GitCommit:"abc", GoVersion:"go1.23"}'
    assert kubeedge.parse_keadm_version(text) == "v1.21.0"
    assert kubeedge.parse_keadm_version("") is None
    assert kubeedge.edgecore_version("v1.30.7-kubeedge-v1.21.0") == "v1.21.0"
    assert kubeedge.edgecore_version("v1.30.7") is None
    assert kubeedge.same_version("1.21.0", "v1.21.0")


def test_kubeedge_edgecore_dropin_disables_the_environment_check() -> None:
    text = kubeedge.edgecore_dropin()
    assert "[Service]\nEnvironment=CHECK_EDGECORE_ENVIRONMENT=false\n" in text


def test_kubeedge_preflight_needs_a_host_cluster(settings: DistroSettings) -> None:
    with pytest.raises(PreflightError) as excinfo:
        kubeedge.KubeEdgeDistro(settings, kubeedge.KubeEdgeConfig()).preflight([])
    _one_line(excinfo.value, "kubeedge: needs a host cluster for CloudCore and none was given", "--kubeconfig")


def test_kubeedge_preflight_names_an_unreachable_host_cluster(tmp_path: Path) -> None:
    settings = DistroSettings(run_id="r1", work_dir=tmp_path, kubeconfig=_unreachable_kubeconfig(tmp_path))
    with pytest.raises(PreflightError) as excinfo:
        kubeedge.KubeEdgeDistro(settings, kubeedge.KubeEdgeConfig()).preflight([])
    _one_line(excinfo.value, "kubeedge: ", "does not answer")


def _node(name: str, *, edge: bool, ready: bool, ip: str = "10.9.9.9") -> dict[str, Any]:
    labels = {_host.EDGE_ROLE_LABEL: ""} if edge else {}
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "addresses": [{"type": "InternalIP", "address": ip}],
        },
    }


def test_kubeedge_preflight_without_an_edge_says_why_it_may_not_join(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: DistroSettings
) -> None:
    _empty_path(monkeypatch, tmp_path)
    monkeypatch.setattr(_host, "is_root", lambda: True)
    driver = kubeedge.KubeEdgeDistro(settings, kubeedge.KubeEdgeConfig())
    workload = FakeWorkload(FakeKube([_node("cloud", edge=False, ready=True)]))
    monkeypatch.setattr(driver, "_workload", lambda: workload)
    with pytest.raises(PreflightError) as excinfo:
        driver.preflight([])
    _one_line(
        excinfo.value,
        "kubeedge: the host cluster has no Ready edge node (label node-role.kubernetes.io/edge)",
        "('keadm' is not on PATH)",
        "install keadm v1.21.0",
    )


def test_kubeedge_join_records_init_token_and_join(
    monkeypatch: pytest.MonkeyPatch, recorder: Recorder, tmp_path: Path, settings: DistroSettings
) -> None:
    keadm = _executable(tmp_path, "keadm")
    recorder.outputs = {"gettoken": "some log line\nTOKEN.abc\n"}
    dropin = tmp_path / "edgecore.service.d" / "10-edgex-smoke.conf"
    monkeypatch.setattr(kubeedge, "EDGECORE_DROPIN", dropin)
    monkeypatch.setattr(_host, "has_systemd", lambda: True)
    monkeypatch.setattr(_host, "reachable", lambda _host, _port, **_kw: True)
    settings = DistroSettings(run_id="r1", work_dir=tmp_path / "w", kubeconfig=tmp_path / "host.kubeconfig")
    config = kubeedge.KubeEdgeConfig(keadm=str(keadm), advertise_address="10.1.2.3", edge_node="edge-1")
    driver = kubeedge.KubeEdgeDistro(settings, config)
    monkeypatch.setattr(driver, "_workload", FakeWorkload)
    driver._plan = "join"
    driver._needs_init = True
    target = driver.up()
    assert target == Target(distro="kubeedge", name="edge-1", mode="provisioned", created=True)
    host = str(tmp_path / "host.kubeconfig")
    assert recorder.argvs == [
        [str(keadm), "init", "--advertise-address=10.1.2.3", f"--kube-config={host}", "--kubeedge-version=v1.21.0"],
        [str(keadm), "gettoken", f"--kube-config={host}"],
        [
            str(keadm),
            "join",
            "--cloudcore-ipport=10.1.2.3:10000",
            "--kubeedge-version=v1.21.0",
            "--edgenode-name=edge-1",
            f"--remote-runtime-endpoint={kubeedge.DEFAULT_RUNTIME_ENDPOINT}",
            "--cgroupdriver=cgroupfs",
            "--with-mqtt=false",
            "--token=TOKEN.abc",
        ],
    ]
    assert recorder.calls[2][1] == {"CHECK_EDGECORE_ENVIRONMENT": "false"}
    assert dropin.read_text() == kubeedge.edgecore_dropin()

    driver.down(target)
    driver.down(target)
    assert recorder.argvs[3:] == [
        [str(keadm), "reset", "edge", "--force"],
        [str(keadm), "reset", "cloud", f"--kube-config={host}", "--force"],
    ]
    assert not dropin.exists()


def test_kubeedge_down_after_attaching_changes_nothing(recorder: Recorder, settings: DistroSettings) -> None:
    driver = kubeedge.KubeEdgeDistro(settings, kubeedge.KubeEdgeConfig())
    driver.down(Target(distro="kubeedge", name="edge", mode="attached", created=False))
    assert recorder.calls == []


def test_kubeedge_failed_reset_is_reported_and_retried(
    monkeypatch: pytest.MonkeyPatch, recorder: Recorder, tmp_path: Path
) -> None:
    recorder.fail = ["reset edge"]
    settings = DistroSettings(run_id="r1", work_dir=tmp_path, kubeconfig=tmp_path / "k")
    driver = kubeedge.KubeEdgeDistro(settings, kubeedge.KubeEdgeConfig())
    driver._keadm = "keadm"
    driver._edge_joined = True
    target = Target(distro="kubeedge", name="edge", mode="provisioned", created=True)
    with pytest.raises(InfraError) as excinfo:
        driver.down(target)
    _one_line(excinfo.value, "kubeedge: teardown incomplete: 'keadm reset edge' exited 1")
    recorder.fail = []
    driver.down(target)
    assert recorder.argvs == [["keadm", "reset", "edge", "--force"]] * 2


# -- this machine, as it is ----------------------------------------------------------------------------------


MACHINE_FRAGMENTS = {
    "k3s": ("k3s: 'k3s' is not on PATH and this run may not install it (", "or pass --kubeconfig to attach"),
    "microk8s": ("microk8s: 'microk8s' is not on PATH and this run may not install it (", "--kubeconfig"),
    "kubeedge": ("kubeedge: needs a host cluster for CloudCore and none was given", "--kubeconfig"),
}
FACTORIES = {"k3s": k3s.K3sDistro, "microk8s": microk8s.MicroK8sDistro, "kubeedge": kubeedge.KubeEdgeDistro}


def _skip_if_installed(distro: str) -> None:
    tool = {"k3s": "k3s", "microk8s": "microk8s", "kubeedge": "keadm"}[distro]
    if _host.tool(tool) is not None:
        pytest.skip(f"{tool} is installed on this host, so {distro} would not stop at preflight")


@pytest.mark.parametrize("distro", sorted(FACTORIES))
def test_driver_preflight_on_this_machine_stops_with_one_actionable_line(
    monkeypatch: pytest.MonkeyPatch, distro: str, settings: DistroSettings
) -> None:
    _skip_if_installed(distro)
    for name in (k3s.ENV_INSTALLER, k3s.ENV_AIRGAP_DIR, kubeedge.ENV_KEADM):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(PreflightError) as excinfo:
        FACTORIES[distro](settings).preflight([])
    _one_line(excinfo.value, *MACHINE_FRAGMENTS[distro])


@pytest.mark.parametrize("distro", sorted(FACTORIES))
def test_plugin_run_on_this_machine_stops_at_preflight(distro: str, tmp_path: Path) -> None:
    if distro not in distros.DISTROS:
        pytest.skip(f"{distro} is not in the registry (distros.DISTROS) yet")
    _skip_if_installed(distro)
    env = {name: "" for name in (k3s.ENV_INSTALLER, k3s.ENV_AIRGAP_DIR, kubeedge.ENV_KEADM)}
    done = proc.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "suites",
            f"--distro={distro}",
            f"--report-dir={tmp_path}",
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        timeout_s=300,
        cwd=ROOT,
        check=False,
        env={**env, "PATH": os.environ.get("PATH", "")},
    )
    output = done.stdout + done.stderr
    assert done.returncode == ExitCode.INFRA_ERROR, output
    assert "Traceback" not in output
    preflight = [line for line in output.splitlines() if "stopped at preflight, nothing was created: " in line]
    assert len(preflight) == 1, output
    for fragment in MACHINE_FRAGMENTS[distro]:
        assert fragment in preflight[0], preflight[0]
    (report,) = tmp_path.glob("*.json")
    recorded = json.loads(report.read_text())
    assert recorded["outcome"] == "infra-error"
    assert recorded["error"]["phase"] == "provision"


@pytest.mark.parametrize(
    ("conditions", "state"),
    [
        ([{"type": "Ready", "status": "True"}], "Ready"),
        ([{"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown"}], "NotReady (NodeStatusUnknown)"),
        ([{"type": "Ready", "status": "False"}], "NotReady (Ready=False)"),
        ([], "NotReady (no Ready condition yet)"),
    ],
)
def test_kubeedge_names_the_edge_nodes_state(conditions: list[dict[str, str]], state: str) -> None:
    assert kubeedge.edge_node_state({"status": {"conditions": conditions}}) == state


def test_kubeedge_local_provisioning_without_a_local_edge_node_says_how_to_start_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(local_cluster.ENV_STATE_DIR, str(tmp_path))
    driver = kubeedge.KubeEdgeDistro(DistroSettings(run_id="r1", work_dir=tmp_path, provision="local"))
    with pytest.raises(PreflightError) as caught:
        driver.preflight([])
    assert str(caught.value) == (
        f"kubeedge: --provision local: no local KubeEdge edge node is running (no {tmp_path / 'local-kubeedge.json'}); "
        f"{local_cluster.EDGE_START_HINT}"
    )


def test_ctr_exec_runs_a_shell_in_the_pods_container_by_its_containerd_id() -> None:
    runtime = _sideload.NodeRuntime(ctr=("ctr", "--address", "/run/edge/containerd.sock"))
    pod = {"metadata": {"name": "edgex"}, "status": {"containerStatuses": [
        {"name": "core-data", "containerID": "containerd://abc123"},
    ]}}  # fmt: skip
    assert _ctr_exec.container_id(pod, "core-data") == "abc123"
    argv = _ctr_exec.exec_argv(runtime, "abc123", "test -f /x")
    assert argv[:7] == ["ctr", "--address", "/run/edge/containerd.sock", "--namespace", "k8s.io", "tasks", "exec"]
    assert argv[7] == "--exec-id" and argv[8].startswith("edgex-smoke-")
    assert argv[9:] == ["abc123", "/bin/sh", "-c", "test -f /x"]
    with pytest.raises(InfraError, match="pod edgex: container database has no containerd ID yet"):
        _ctr_exec.container_id(pod, "database")
