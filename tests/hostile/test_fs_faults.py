"""Live, rotated, unreadable, read-only, numerous and zipped files: a clear report, no crash."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hostilekit import listing, tree_hash, unsafe_chars

from mailhops import hostile, hostile_files
from mailhops.index import stages
from mailhops.index.build import open_index

#: Small files for the many-files test (the benchmark uses 3,000; ~10 ms a file cold).
MANY = 800


def cli_out(*argv: str) -> str:
    """stdout of one in-process CLI command (which must succeed)."""
    import contextlib
    import io

    from mailhops.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(argv)) == 0
    return out.getvalue()


def _data_lines(tree: Path) -> int:
    return sum(hostile.count_data_lines(p.read_bytes()) for p in hostile.log_files(tree))


def _errors(index: Any, path: str) -> list[str]:
    rows = index.problems.filter(pl.col("path") == path, pl.col("severity") == "error")
    return list(rows["reason"])


@pytest.fixture
def discover_hook() -> Iterator[Callable[[Callable[[list[Any]], list[Any]]], None]]:
    """Install a hook run on the discovered sources before the build reads them."""

    def install(hook: Callable[[list[Any]], list[Any]]) -> None:
        real = stages.stage_functions()

        def discover(paths: Any) -> tuple[list[Any], list[Any]]:
            sources, problems = real.discover(paths)
            return hook(list(sources)), problems

        stages.set_stage_functions(dataclasses.replace(real, discover=discover))

    yield install
    stages.set_stage_functions(None)


def _largest_receive(tree: Path) -> Path:
    return hostile._pick(hostile.log_files(tree), "SMTP Receive Protocol Log", "")[0]


def _failing(source: Any, exc: OSError) -> Any:
    """A copy of ``source`` whose read raises ``exc`` (as a locked or vanished file does)."""

    class Failing(type(source)):  # type: ignore[misc]
        def read(self, offset: int = 0) -> bytes:
            raise exc

    values = {f.name: getattr(source, f.name) for f in dataclasses.fields(source)}
    return Failing(**values)


def test_file_deleted_between_discovery_and_reading(
    fresh_tree: Path, tmp_path: Path, discover_hook: Any
) -> None:
    victim = _largest_receive(fresh_tree)
    lost = hostile.count_data_lines(victim.read_bytes())
    total = _data_lines(fresh_tree)

    def rotate(sources: list[Any]) -> list[Any]:
        victim.unlink()  # Exchange's circular logging removed it after we listed it
        return sources

    discover_hook(rotate)
    index = open_index([fresh_tree], cache_dir=tmp_path / "cache")
    assert index.stats.lines == total - lost
    assert _errors(index, str(victim)), "the vanished file is reported"


@pytest.mark.parametrize(
    "exc", [PermissionError(13, "Permission denied"), FileNotFoundError(2, "x")]
)
def test_unreadable_file_is_reported_then_read_when_readable(
    fresh_tree: Path, tmp_path: Path, discover_hook: Any, exc: OSError
) -> None:
    victim = _largest_receive(fresh_tree)
    total = _data_lines(fresh_tree)
    discover_hook(lambda srcs: [_failing(s, exc) if s.path == str(victim) else s for s in srcs])
    index = open_index([fresh_tree], cache_dir=tmp_path / "cache")
    assert index.stats.lines == total - hostile.count_data_lines(victim.read_bytes())
    assert _errors(index, str(victim))
    stages.set_stage_functions(None)  # permissions fixed, file unchanged
    again = open_index([fresh_tree], cache_dir=tmp_path / "cache")
    assert again.stats.lines == total, "a file unreadable once must be read when it can be"
    assert not _errors(again, str(victim))


def test_chmod_000_file(fresh_tree: Path, tmp_path: Path) -> None:
    victim = _largest_receive(fresh_tree)
    total = _data_lines(fresh_tree)
    lost = hostile.count_data_lines(victim.read_bytes())
    victim.chmod(0)
    try:
        index = open_index([fresh_tree], cache_dir=tmp_path / "cache")
    finally:
        victim.chmod(0o644)
    if os.geteuid() == 0:  # root reads it anyway: nothing may be lost
        assert index.stats.lines == total
    else:
        assert index.stats.lines == total - lost
        assert _errors(index, str(victim))


def test_growing_file_partial_line_is_read_when_complete(fresh_tree: Path, tmp_path: Path) -> None:
    victim = _largest_receive(fresh_tree)
    cache = tmp_path / "cache"
    total = _data_lines(fresh_tree)
    assert open_index([fresh_tree], cache_dir=cache).stats.lines == total
    first = victim.read_bytes().split(b"\n")[-2].rstrip(b"\r")  # a line Exchange wrote
    row = first.replace(first.split(b",")[2], b"0BADFEED00000001", 1)
    lines_before = victim.read_bytes().count(b"\n")
    with victim.open("ab") as fh:
        fh.write(row[:25])  # Exchange flushed half a line
    index = open_index([fresh_tree], cache_dir=cache)
    assert index.stats.lines == total
    info = index.problems.filter(pl.col("path") == str(victim), pl.col("severity") == "info")
    assert list(info["line"]) == [lines_before + 1]
    assert index.stats.bad_lines == 0
    with victim.open("ab") as fh:
        fh.write(row[25:] + b"\r\n")
    index = open_index([fresh_tree], cache_dir=cache)
    assert index.stats.lines == total + 1
    assert index.stats.grown_files == 1
    assert index.stats.bad_lines == 0
    assert index.find_sessions("0BADFEED00000001").height == 1


def test_file_growing_while_indexed(fresh_tree: Path, tmp_path: Path, discover_hook: Any) -> None:
    """Exchange appends after discovery took the size: the next refresh has every line."""
    victim = _largest_receive(fresh_tree)
    total = _data_lines(fresh_tree)
    last = victim.read_bytes().split(b"\n")[-2] + b"\n"
    row = last.replace(last.split(b",")[2], b"0BADFEED00000002", 1)

    def append(sources: list[Any]) -> list[Any]:
        with victim.open("ab") as fh:
            fh.write(row + row.replace(b"0BADFEED00000002", b"0BADFEED00000003")[:30])
        return sources

    discover_hook(append)
    open_index([fresh_tree], cache_dir=tmp_path / "cache")
    stages.set_stage_functions(None)
    with victim.open("ab") as fh:
        fh.write(row.replace(b"0BADFEED00000002", b"0BADFEED00000003")[30:])
    index = open_index([fresh_tree], cache_dir=tmp_path / "cache")
    assert index.stats.lines == total + 2
    assert index.stats.bad_lines == 0
    assert index.find_sessions("0BADFEED00000003").height == 1


def _mount_ro(src: Path, mnt: Path) -> bool:
    mnt.mkdir()
    cmds = [
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mnt)],
        ["cp", "-a", f"{src}/.", str(mnt)],
        ["mount", "-o", "remount,ro", str(mnt)],
    ]
    for i, cmd in enumerate(cmds):
        if subprocess.run(cmd, capture_output=True, check=False).returncode:
            if i:
                subprocess.run(["umount", str(mnt)], capture_output=True, check=False)
            return False
    return True


def test_read_only_filesystem(fresh_tree: Path, tmp_path: Path) -> None:
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("needs root and mount(8) for a read-only filesystem")
    mnt = tmp_path / "ro"
    if not _mount_ro(fresh_tree, mnt):
        pytest.skip("cannot mount a read-only tmpfs here")
    try:
        assert not os.access(mnt, os.W_OK) or _write_fails(mnt)
        before = tree_hash(mnt)
        index = open_index([mnt], cache_dir=tmp_path / "cache")
        assert index.stats.lines == _data_lines(fresh_tree)
        assert index.stats.bad_lines == 0
        assert tree_hash(mnt) == before
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True, check=False)


def _write_fails(folder: Path) -> bool:
    try:
        (folder / "probe").write_bytes(b"")
    except OSError:
        return True
    return False


def test_write_protected_folder(fresh_tree: Path, tmp_path: Path) -> None:
    """chmod -R a-w: works without root's bypass too; nothing is created in the tree."""
    for p in [fresh_tree, *fresh_tree.rglob("*")]:
        p.chmod(p.stat().st_mode & ~0o222)
    try:
        before, names = tree_hash(fresh_tree), listing(fresh_tree)
        index = open_index([fresh_tree], cache_dir=tmp_path / "cache")
        assert index.stats.lines == _data_lines(fresh_tree)
        assert tree_hash(fresh_tree) == before and listing(fresh_tree) == names
    finally:
        for p in [fresh_tree, *fresh_tree.rglob("*")]:
            p.chmod(p.stat().st_mode | 0o200)


def test_thousands_of_small_files(generated: Path, tmp_path: Path) -> None:
    template = _largest_receive(generated).read_bytes()
    folder = tmp_path / "many" / "EX19MBX9" / "FrontEnd" / "ProtocolLog" / "SmtpReceive"
    expected = hostile_files.make_many_files(folder, MANY, template)
    index = open_index([tmp_path / "many"], cache_dir=tmp_path / "cache")
    assert index.stats.files == MANY
    assert index.stats.lines == expected
    assert index.stats.bad_lines == 0
    assert index.sessions.height == MANY
    warm = open_index([tmp_path / "many"], cache_dir=tmp_path / "cache")
    assert warm.stats.lines == expected


def test_zip_with_path_traversal_members(generated: Path, tmp_path: Path) -> None:
    log = _largest_receive(generated).read_bytes()
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    archive = work / "collected.zip"
    hostile_files.make_traversal_zip(archive, log)
    before = listing(tmp_path)
    index = open_index([archive], cache_dir=tmp_path / "cache")
    # The two safe members hold the same log: it is indexed once.
    assert index.stats.lines == hostile.count_data_lines(log)
    assert index.stats.copied_files == 1
    assert index.stats.bad_lines == 1
    bad = index.problems.filter(pl.col("severity") == "error")
    assert any("../../evil.LOG" in p for p in bad["path"])
    assert any("abs-evil.LOG" in p for p in bad["path"])
    assert any(hostile_files.HOSTILE_MEMBER in p for p in bad["path"])
    report = cli_out("index", str(archive), "--cache", str(tmp_path / "cache"))
    assert unsafe_chars(report) == [] and "[bold red]" in report
    created = {p for p in listing(tmp_path) - before if "/cache" not in p}
    assert created == set()
    assert not Path("/tmp/abs-evil.LOG").exists()
    assert not (tmp_path / "evil.LOG").exists()


def test_zip_bomb_and_forged_size(generated: Path, tmp_path: Path) -> None:
    log = _largest_receive(generated).read_bytes()
    archive = tmp_path / "bomb.zip"
    hostile_files.make_bomb_zip(archive, log, inflated_mb=40)
    index = open_index([archive], cache_dir=tmp_path / "cache")
    assert index.stats.lines == hostile.count_data_lines(log)
    flagged = set(index.problems.filter(pl.col("severity") == "error")["path"])
    assert any("bomb/" in p for p in flagged)
    assert any("forged/" in p for p in flagged)
