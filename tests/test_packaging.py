"""The wheel is the product: built from this checkout, installed into a fresh venv elsewhere, it is the whole plugin.

The fresh venv gets the wheel and nothing of the checkout. Its third-party dependencies come from
this venv's site-packages through a ``.pth`` file that lists a folder of links to them, leaving
out edgex-smoke's own editable install, so no test needs the network.
"""

from __future__ import annotations

import json
import shutil
import sys
import sysconfig
from pathlib import Path

import pytest

from harness import proc

REPO = Path(__file__).resolve().parent.parent
BUILD_TIMEOUT_S = 300.0
RUN_TIMEOUT_S = 120.0
OWN = ("edgex_smoke", "__editable__", "__editable___edgex_smoke")

CHECK_IDS = """
import json, pytest
class Grab:
    ids = set()
    def pytest_collection_modifyitems(self, items):
        self.ids.update(str(i.get_closest_marker("check").args[0]) for i in items if i.get_closest_marker("check"))
grab = Grab()
status = pytest.main(["--pyargs", "suites", "--collect-only", "-q", "-p", "no:cacheprovider"], plugins=[grab])
import edgex_smoke.plugin, suites, manifests
print(json.dumps({"status": int(status), "ids": sorted(grab.ids), "plugin": edgex_smoke.plugin.__file__,
                  "suites": suites.__file__, "manifests": manifests.__file__}))
"""


def _copy_sources(dest: Path) -> None:
    """The files git tracks or would track, as they are in the working tree (no build/ or egg-info here)."""
    listed = proc.run(
        ["git", "-C", str(REPO), "ls-files", "--cached", "--others", "--exclude-standard"], timeout_s=60
    ).stdout.splitlines()
    for name in listed:
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def _link_dependencies(site: Path, links: Path) -> None:
    """A folder of links to this venv's packages, without edgex-smoke's own editable install."""
    links.mkdir()
    for entry in site.iterdir():
        if entry.name.startswith(OWN) or entry.suffix == ".pth" or entry.name == "__pycache__":
            continue
        (links / entry.name).symlink_to(entry)


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv outside the checkout with the wheel built from it installed; returns its python."""
    root = tmp_path_factory.mktemp("packaging")
    sources, wheels, venv = root / "src", root / "wheels", root / "venv"
    _copy_sources(sources)
    proc.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), "."],
        timeout_s=BUILD_TIMEOUT_S,
        cwd=sources,
    )
    (wheel,) = wheels.glob("edgex_smoke-*.whl")
    proc.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], timeout_s=RUN_TIMEOUT_S)
    python = venv / "bin" / "python"
    proc.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        timeout_s=BUILD_TIMEOUT_S,
    )
    fresh_site = Path(
        proc.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], timeout_s=RUN_TIMEOUT_S
        ).stdout.strip()
    )
    _link_dependencies(Path(sysconfig.get_paths()["purelib"]), root / "deps")
    (fresh_site / "zz-edgex-smoke-test-deps.pth").write_text(str(root / "deps") + "\n")
    return python


def _run(python: Path, *args: str, cwd: Path) -> proc.Completed:
    return proc.run([str(python), *args], timeout_s=RUN_TIMEOUT_S, check=False, cwd=cwd)


def test_an_unknown_distro_gets_the_one_line_usage_error(fresh_venv: Path, tmp_path: Path) -> None:
    done = _run(fresh_venv, "-m", "pytest", "--distro=nope", cwd=tmp_path)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        "ERROR: --distro: unknown value 'nope'; choose one of: k3s, k8s, kubeedge, microk8s, podman"
    ]
    assert "Traceback" not in done.stdout + done.stderr


def test_the_packaged_suites_hold_checks_a_to_i(fresh_venv: Path, tmp_path: Path) -> None:
    done = _run(fresh_venv, "-c", CHECK_IDS, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["status"] == 0
    assert found["ids"] == list("abcdefghi")
    venv_root = fresh_venv.parent.parent
    for module in ("plugin", "suites", "manifests"):
        assert Path(found[module]).is_relative_to(venv_root), f"{module} came from {found[module]}, not the wheel"


def test_the_wheel_has_no_lab(fresh_venv: Path, tmp_path: Path) -> None:
    done = _run(fresh_venv, "-c", "import lab", cwd=tmp_path)
    assert done.returncode != 0
    assert "No module named 'lab'" in done.stderr


def test_the_release_profiles_ship_with_the_wheel(fresh_venv: Path, tmp_path: Path) -> None:
    code = (
        "import manifests; o = manifests.render(release='4.0', distro='k3s', images=manifests.ImageSource.parse("
        "'upstream'), security='off', run_id='r1', gateway_http_port=8000, gateway_mqtt_port=1884); print(len(o))"
    )
    done = _run(fresh_venv, "-c", code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) >= 2
