"""One source of truth per concept: the README's options table, the drivers' contracts and the overlays follow
the option table and the distro registry, so adding a distro or an option cannot leave a copy behind.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import distros
from edgex_smoke import options as opts
from manifests import _render

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def _readme_options() -> dict[str, tuple[str, str, str]]:
    """Flag → (usage cell, default cell, meaning cell) of the README's options table."""
    text = README.read_text()
    section = text[text.index("## Options") :]
    section = section[: section.index("\n## ", 1)]
    rows: dict[str, tuple[str, str, str]] = {}
    for line in section.splitlines():
        match = re.match(r"^\| `(--[a-z-]+)([^`]*)` \| (.+?) \| (.+) \|$", line)
        if match:
            usage = (match[1] + match[2]).replace("\\|", "|")
            rows[match[1]] = (usage, match[3], match[4])
    return rows


def test_the_readme_options_table_is_the_option_table() -> None:
    rows = _readme_options()
    assert list(rows) == [option.flag for option in opts.OPTIONS], "same options, same order"
    for option in opts.OPTIONS:
        usage, default, _ = rows[option.flag]
        assert usage == option.usage(), option.flag
        assert default == option.readme_default(), option.flag


def test_the_readme_names_every_registered_distro_and_local_target() -> None:
    rows = _readme_options()
    assert re.findall(r"`([a-z0-9]+)`", rows["--distro"][2]) == distros.names()
    assert all(f"`{name}`" in rows["--provision"][2] for name in distros.local_provision_names())


def test_the_independence_contract_lists_every_registered_driver() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    (independence,) = [c for c in contracts if c["type"] == "independence"]
    modules = {entry.factory.split(":")[0] for entry in distros.DISTROS.values()}
    assert set(independence["modules"]) == modules


def test_every_registered_distro_has_its_overlay_folder() -> None:
    for name in distros.names():
        assert (_render.OVERLAYS_DIR / name / _render.OVERLAY_FILE).is_file(), name


def test_every_registered_driver_builds_and_keeps_the_protocol(tmp_path: Path) -> None:
    settings = distros.DistroSettings(run_id="arch", work_dir=tmp_path)
    for name in distros.names():
        driver = distros.make_distro(name, settings)
        assert driver.name == name
        assert isinstance(driver, distros.Distro), name
