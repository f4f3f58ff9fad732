from __future__ import annotations

from pathlib import Path

import pytest

from lab.stamps import StampStore, Steps, files_digest, step_key


class Product:
    """A stand-in for an image or binary: counts builds and can vanish."""

    def __init__(self) -> None:
        self.builds = 0
        self.present = False

    def build(self) -> None:
        self.builds += 1
        self.present = True

    def exists(self) -> bool:
        return self.present


@pytest.fixture
def lines() -> list[str]:
    return []


@pytest.fixture
def steps(tmp_path: Path, lines: list[str]) -> Steps:
    return Steps(StampStore(tmp_path / "stamps"), report=lines.append)


def test_a_step_runs_once_then_is_cached(steps: Steps, lines: list[str]) -> None:
    product = Product()
    assert steps.run("go build core-data", "k1", build=product.build, exists=product.exists)
    assert not steps.run("go build core-data", "k1", build=product.build, exists=product.exists)
    assert product.builds == 1
    assert lines[-1] == "lab: go build core-data … cached"
    assert lines[1].startswith("lab: go build core-data … ") and lines[1].endswith(" s")
    assert steps.timings["go build core-data"] is None


def test_a_changed_key_rebuilds(steps: Steps) -> None:
    product = Product()
    steps.run("infra rootfs", "k1", build=product.build, exists=product.exists)
    steps.run("infra rootfs", "k2", build=product.build, exists=product.exists)
    assert product.builds == 2


def test_a_missing_product_rebuilds_even_with_a_current_stamp(steps: Steps) -> None:
    product = Product()
    steps.run("image core-data", "k1", build=product.build, exists=product.exists)
    product.present = False
    steps.run("image core-data", "k1", build=product.build, exists=product.exists)
    assert product.builds == 2


def test_force_rebuilds(steps: Steps) -> None:
    product = Product()
    steps.run("infra image", "k1", build=product.build, exists=product.exists)
    steps.force = True
    steps.run("infra image", "k1", build=product.build, exists=product.exists)
    assert product.builds == 2


def test_a_failed_build_leaves_no_stamp(steps: Steps) -> None:
    def fail() -> None:
        raise RuntimeError("boom")

    steps.run("infra rootfs", "k1", build=Product().build, exists=lambda: True)
    with pytest.raises(RuntimeError):
        steps.run("infra rootfs", "k2", build=fail, exists=lambda: True)
    assert steps.stamps.key("infra rootfs") is None


def test_stamps_survive_a_new_store(tmp_path: Path) -> None:
    StampStore(tmp_path).record("go mod download", "abc", 1.25)
    assert StampStore(tmp_path).key("go mod download") == "abc"
    assert StampStore(tmp_path).key("never ran") is None


def test_a_corrupt_stamp_reads_as_absent(tmp_path: Path) -> None:
    store = StampStore(tmp_path)
    store.record("x", "abc", 1)
    next(tmp_path.glob("*.json")).write_text("{not json")
    assert store.key("x") is None


def test_files_digest_follows_contents_and_names(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.py").write_text("1")
    first = files_digest([tmp_path / "a"], root=tmp_path)
    assert files_digest([tmp_path / "a"], root=tmp_path) == first
    (tmp_path / "a" / "one.py").write_text("2")
    second = files_digest([tmp_path / "a"], root=tmp_path)
    assert second != first
    (tmp_path / "a" / "one.py").rename(tmp_path / "a" / "two.py")
    assert files_digest([tmp_path / "a"], root=tmp_path) not in {first, second}


def test_files_digest_ignores_bytecode_caches(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("x")
    before = files_digest([tmp_path], root=tmp_path)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "m.pyc").write_bytes(b"\0")
    assert files_digest([tmp_path], root=tmp_path) == before


def test_step_keys_differ_by_step_and_input() -> None:
    assert step_key("a", "x") != step_key("b", "x")
    assert step_key("a", "x") != step_key("a", "y")
    assert step_key("a", "x", "y") != step_key("a", "xy")
