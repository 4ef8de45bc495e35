"""The lock files (locks/*.txt, made by `make lock`) agree with pyproject.toml's ranges, with each
other, and — in the environment `make` built from them — with what is installed."""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")
# the lock file of each install set and the extras it holds
LOCKS = {"runtime": (), "spark": ("spark",), "test": ("spark", "test")}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _requirements(extras: tuple[str, ...]) -> list[Requirement]:
    """pyproject.toml's requirements of an install set (``memberlens[x]`` expanded)."""
    project = _project()
    found = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        for text in project["optional-dependencies"][extra]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) != "memberlens":
                found.append(requirement)
    return found


def _pins(name: str) -> dict[str, list[tuple[Version, Marker | None]]]:
    pins: dict[str, list[tuple[Version, Marker | None]]] = {}
    for line in (ROOT / "locks" / f"{name}.txt").read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            marker = Marker(match[3]) if match[3] else None
            pins.setdefault(canonicalize_name(match[1]), []).append((Version(match[2]), marker))
    return pins


def _applies(marker: Marker | None) -> bool:
    return marker is None or marker.evaluate()


def test_the_lock_parser_reads_every_pin():
    text = (ROOT / "locks" / "test.txt").read_text(encoding="utf-8")
    assert len(_pins("test")) == len({m[1].lower() for m in re.finditer(r"^([A-Za-z0-9][\w.-]*)==", text, re.M)}) > 40


@pytest.mark.parametrize("lock", LOCKS)
def test_every_requirement_is_locked_within_its_range(lock):
    pins = _pins(lock)
    for requirement in _requirements(LOCKS[lock]):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"locks/{lock}.txt has no pin for {requirement}: run make lock"
        for version, _ in pins[name]:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"locks/{lock}.txt pins {name}=={version}, outside pyproject.toml's {requirement}: run make lock"
            )


@pytest.mark.parametrize("lock", ["runtime", "spark"])
def test_smaller_sets_pin_what_the_test_set_pins(lock):
    """`make test` tests the versions `make demo` installs."""
    test_pins = _pins("test")
    for name, versions in _pins(lock).items():
        assert sorted(map(str, versions)) == sorted(map(str, test_pins[name])), (
            f"{name}: locks/{lock}.txt {versions} but locks/test.txt {test_pins[name]}: run make lock"
        )


def test_installed_versions_are_the_locked_ones():
    """In the environment `make test` built from locks/test.txt, every applicable pin is what is installed."""
    if not (Path(sys.prefix) / ".installed-test").is_file():
        pytest.skip("not the environment `make test` installs from the lock (a venv of your own is yours to manage)")
    wrong = []
    for name, versions in _pins("test").items():
        wanted = [v for v, marker in versions if _applies(marker)]
        if not wanted:
            continue
        try:
            installed = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            wrong.append(f"{name}: not installed (locked {wanted[0]})")
            continue
        if installed not in wanted:
            wrong.append(f"{name}: {installed} installed, {wanted[0]} locked")
    assert not wrong, wrong
