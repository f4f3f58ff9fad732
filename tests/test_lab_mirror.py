from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import InfraError
from lab.mirror import debian_mirror

DEB822 = """Types: deb
# a comment
URIs: http://mirror.invalid/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.invalid/debian-security
Suites: bookworm-security
Components: main
"""


@pytest.fixture
def apt(tmp_path: Path) -> Path:
    (tmp_path / "sources.list.d").mkdir()
    return tmp_path


def test_deb822_source_serving_the_suite(apt: Path) -> None:
    (apt / "sources.list.d" / "debian.sources").write_text(DEB822)
    assert debian_mirror("bookworm", apt) == "http://mirror.invalid/debian"


def test_security_suite_is_not_the_suite(apt: Path) -> None:
    (apt / "sources.list.d" / "debian.sources").write_text(DEB822)
    assert debian_mirror("bookworm-security", apt) == "http://mirror.invalid/debian-security"


def test_one_line_sources_with_options(apt: Path) -> None:
    (apt / "sources.list").write_text(
        "# deb http://commented.invalid/debian bookworm main\n"
        "deb-src http://src.invalid/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://one.invalid/debian/ bookworm main\n"
    )
    assert debian_mirror("bookworm", apt) == "http://one.invalid/debian"


def test_disabled_files_and_stanzas_are_ignored(apt: Path) -> None:
    (apt / "sources.list.d" / "old.sources.disabled-by-farm").write_text(DEB822)
    (apt / "sources.list.d" / "off.sources").write_text(
        DEB822.replace("Components: main\nSigned", "Enabled: no\nSigned")
    )
    with pytest.raises(InfraError, match="no enabled 'deb' source serves suite 'bookworm'"):
        debian_mirror("bookworm", apt)


def test_host_sources_name_a_mirror_for_bookworm() -> None:
    if not Path("/etc/apt").is_dir():
        pytest.skip("not a Debian host")
    assert debian_mirror("bookworm").startswith(("http://", "https://"))
