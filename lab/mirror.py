"""Find the Debian mirror this host's apt already uses, so no host name is written down anywhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from harness.errors import InfraError

APT_DIR = Path("/etc/apt")


def _one_line_entries(text: str) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Yield (uri, (suite,)) from one-line ``deb [opts] uri suite comp…`` sources."""
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if len(words) >= 2:
            yield words[0], (words[1],)


def _deb822_entries(text: str) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Yield (uri, suites) from deb822 ``.sources`` stanzas of type ``deb``."""
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            name, value = line.split(":", 1)
            fields[name.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes").lower() == "no":
            continue
        suites = tuple(fields.get("suites", "").split())
        for uri in fields.get("uris", "").split():
            yield uri, suites


def entries(apt_dir: Path = APT_DIR) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Yield (uri, suites) for every enabled ``deb`` source of the host, in apt's reading order."""
    main = apt_dir / "sources.list"
    if main.is_file():
        yield from _one_line_entries(main.read_text(encoding="utf-8", errors="replace"))
    parts = apt_dir / "sources.list.d"
    if parts.is_dir():
        for path in sorted(parts.iterdir()):
            if path.suffix == ".list":
                yield from _one_line_entries(path.read_text(encoding="utf-8", errors="replace"))
            elif path.suffix == ".sources":
                yield from _deb822_entries(path.read_text(encoding="utf-8", errors="replace"))


def debian_mirror(suite: str, apt_dir: Path = APT_DIR) -> str:
    """Return the URI of the first host apt source that serves `suite` itself (not ``<suite>-updates``).

    Raises:
        InfraError: No enabled ``deb`` source lists `suite`.
    """
    for uri, suites in entries(apt_dir):
        if suite in suites:
            return uri.rstrip("/")
    raise InfraError(
        f"{apt_dir}/sources.list*: no enabled 'deb' source serves suite {suite!r}; "
        f"add one for {suite} (as Debian's default sources do) and run apt-get update"
    )
