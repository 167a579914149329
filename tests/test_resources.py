"""The bundled files (``resources/``): found through importlib.resources, listed in the
catalogue, small, all covered by the wheel's package data; the desktop entry is valid."""

from __future__ import annotations

import fnmatch
import shutil
import struct
import subprocess
import tomllib
from importlib import resources as importlib_resources
from pathlib import Path

import pytest

import resources
from resources import EXAMPLES, ICON_SIZES, example_files, example_path, icon_paths, path_of

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "resources"


def test_the_package_is_the_checkout_one() -> None:
    assert Path(resources.__file__).resolve().parent == PACKAGE


def test_importlib_resources_lists_every_example_of_the_catalogue() -> None:
    listed = sorted(item.name for item in
                    (importlib_resources.files("resources") / "examples").iterdir()
                    if item.name.endswith((".pcap", ".pcapng")))
    assert listed == example_files() == sorted(e.file for e in EXAMPLES)
    assert len(EXAMPLES) >= 4


def test_examples_are_small_and_described_in_one_line() -> None:
    sizes = {e.file: example_path(e).stat().st_size for e in EXAMPLES}
    assert all(0 < size < 100_000 for size in sizes.values()), sizes
    assert sum(sizes.values()) < 300_000
    mnemonics = [e.title[e.title.index("&") + 1].lower() for e in EXAMPLES]
    assert len(set(mnemonics)) == len(EXAMPLES), "one mnemonic letter per example"
    for e in EXAMPLES:
        assert "\n" not in e.description and 20 < len(e.description) < 160
        assert example_path(e).read_bytes()[:4] in (
            b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\x0a\x0d\x0d\x0a")


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_icon_pngs_have_their_sizes() -> None:
    pngs = [p for p in icon_paths() if p.suffix == ".png"]
    assert [_png_size(p) for p in pngs] == [(s, s) for s in ICON_SIZES]
    svg = path_of("icons/synack.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and 'viewBox="0 0 256 256"' in svg


def test_a_missing_resource_is_a_clear_error() -> None:
    with pytest.raises(FileNotFoundError, match="resources/examples/nope.pcap"):
        path_of("examples/nope.pcap")


def test_the_wheel_ships_every_bundled_file() -> None:
    """Every file under resources/ that is not Python is matched by package data."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = config["tool"]["setuptools"]
    assert "resources*" in setuptools["packages"]["find"]["include"]
    patterns = setuptools["package-data"]["resources"] + setuptools["package-data"]["*"]
    bundled = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*")
               if p.is_file() and p.suffix not in (".py", ".pyc")]
    assert bundled
    missing = [name for name in bundled
               if not any(fnmatch.fnmatch(name, pattern) for pattern in patterns)]
    assert missing == [], f"not in the wheel's package data: {missing}"


def test_the_desktop_entry() -> None:
    entry = path_of("synack.desktop").read_text(encoding="utf-8")
    assert "Exec=synack %f" in entry and "Icon=synack" in entry
    validate = shutil.which("desktop-file-validate")
    if validate is None:
        pytest.skip("desktop-file-validate not installed (Debian: desktop-file-utils)")
    out = subprocess.run([validate, str(path_of("synack.desktop"))], capture_output=True,
                         text=True)
    assert out.returncode == 0 and out.stdout.strip() == "", out.stdout + out.stderr
