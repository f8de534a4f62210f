"""Building specs/ is reproducible, and the committed output/ folder is what it gives now, byte for byte.

Both tests share one build of specs/ (the ``built_specs`` fixture, about 20 s).
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from flopsheet.cli import main

from support import REPO, SPECS

FIX = ("run `make demo` (or `flopsheet build specs -o output` and `flopsheet build specs/zoo -o output/zoo`) "
       "and commit output/. The bytes also depend on the versions of XlsxWriter, matplotlib and typst, "
       "so build where the tests run")


def _files(folder) -> set[str]:
    return {path.name for path in folder.iterdir() if path.is_file() and not path.name.startswith(".")}


def test_committed_outputs_are_fresh(built_specs):
    _compare_committed(REPO / "output", built_specs)


def test_committed_zoo_outputs_are_fresh(tmp_path):
    result = CliRunner().invoke(main, ["build", str(SPECS / "zoo"), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    _compare_committed(REPO / "output" / "zoo", tmp_path)


def _compare_committed(committed: Path, built_specs: Path) -> None:
    assert committed.is_dir(), f"{committed.name}/ is missing: {FIX}"
    assert _files(committed), f"output/ is empty: {FIX}"

    fresh = _files(built_specs)
    missing = sorted(fresh - _files(committed))
    assert not missing, f"output/ lacks files that specs/ builds, {missing}: {FIX}"
    extra = sorted(_files(committed) - fresh)
    assert not extra, f"output/ contains files that specs/ no longer builds, {extra}: {FIX}"
    stale = sorted(name for name in fresh if (committed / name).read_bytes() != (built_specs / name).read_bytes())
    assert not stale, f"output/ is stale, these files differ from a fresh build of specs/: {stale}: {FIX}"


def test_build_of_every_spec_is_reproducible(built_specs, tmp_path):
    # Every spec in specs/ and the comparison, built a second time: the same files, byte for byte.
    result = CliRunner().invoke(main, ["build", str(SPECS), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    names = sorted(path.name for path in built_specs.iterdir())
    assert names == sorted(path.name for path in tmp_path.iterdir())
    assert {".xlsx", ".md", ".png", ".pdf"} <= {Path(name).suffix for name in names}
    for name in names:
        assert (built_specs / name).read_bytes() == (tmp_path / name).read_bytes(), name
