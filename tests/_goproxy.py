"""A real file-based Go module proxy, written by a test: one tiny main module, served as GOPROXY does."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

MODULE_PATH = "example.invalid/edgex-smoke-hello"
VERSION = "v0.0.0-20261201000000-0123456789ab"
COMMIT = "0123456789ab" + "0" * 28
GO_MOD = f"module {MODULE_PATH}\n\ngo 1.23\n"
FILES = {
    "go.mod": GO_MOD,
    "cmd/hello/main.go": (
        'package main\n\nimport "fmt"\n\nvar Version = "dev"\n\nfunc main() {\n\tfmt.Println("hello", Version)\n}\n'
    ),
    "cmd/hello/res/configuration.yaml": "Service:\n  Port: 1\n",
}


@dataclass(frozen=True)
class Served:
    """What the proxy serves: its GOPROXY value and the module's h1: sum."""

    goproxy: str
    sum: str


def h1_sum(files: dict[str, str], prefix: str) -> str:
    """The Go module hash ``h1:`` (golang.org/x/mod/sumdb/dirhash Hash1) of `files` under `prefix`."""
    lines = "".join(f"{hashlib.sha256(files[name].encode()).hexdigest()}  {prefix}{name}\n" for name in sorted(files))
    return "h1:" + base64.b64encode(hashlib.sha256(lines.encode()).digest()).decode()


def serve(root: Path) -> Served:
    """Write the module's ``.info``, ``.mod`` and ``.zip`` below `root`; return the proxy URL and sum."""
    prefix = f"{MODULE_PATH}@{VERSION}/"
    version_dir = root / MODULE_PATH / "@v"
    version_dir.mkdir(parents=True, exist_ok=True)
    (version_dir / "list").write_text(VERSION + "\n")
    (version_dir / f"{VERSION}.info").write_text(json.dumps({"Version": VERSION, "Time": "2026-12-01T00:00:00Z"}))
    (version_dir / f"{VERSION}.mod").write_text(GO_MOD)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in sorted(FILES.items()):
            archive.writestr(prefix + name, text)
    (version_dir / f"{VERSION}.zip").write_bytes(buffer.getvalue())
    return Served(goproxy=f"file://{root}", sum=h1_sum(FILES, prefix))


def pins_text(module_sum: str) -> str:
    """A pins file that builds the served module's ``cmd/hello`` as service ``hello``."""
    return f"""
[infra]
suite = "bookworm"
tag = "bookworm"
packages = ["procps"]
[modules.hello]
path = "{MODULE_PATH}"
version = "{VERSION}"
release = "9.9.9"
tag = "v9.9.9"
commit = "{COMMIT}"
sum = "{module_sum}"
[services.hello]
module = "hello"
package = "{MODULE_PATH}/cmd/hello"
res = "cmd/hello/res"
tags = ["no_openziti"]
version_vars = ["main.Version"]
"""
