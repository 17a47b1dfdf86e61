"""``mailhops sample``: argument parsing, output and errors (run() called directly)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from mailhops.commands import sample


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mailhops")
    sample.register(parser.add_subparsers())
    return parser.parse_args(["sample", *argv])


def test_sample_command_writes_tree_with_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "logs"
    args = _parse(
        [
            str(out),
            "--size-mb",
            "0.2",
            "--seed",
            "3",
            "--layout",
            "EX19MBX2=collector",
            "--zip",
            "EX19MBX3",
            "--disable",
            "hub-send",
            "--version",
            "2016",
            "--restart",
            "ex19mbx1",
            "--edge",
            "ex19edge1",
            "--max-file-mb",
            "0.01",
        ]
    )
    assert sample.run(args) == 0
    assert "wrote" in capsys.readouterr().out
    assert (out / "EX19MBX2" / "FE_Receive_Protocol_Logs").is_dir()
    assert (out / "EX19MBX3.zip").is_file()
    assert (out / "EX19EDGE1" / "V15" / "TransportRoles" / "Logs" / "Edge").is_dir()
    files = [json.loads(line) for line in (out / "truth" / "files.jsonl").read_text().splitlines()]
    assert not any(f["service"] == "Hub" and f["log_type"] == "smtp-send" for f in files)
    assert any(f["path"].endswith("-2.LOG") for f in files)  # --max-file-mb rolls over
    # A second run over its own output replaces it.
    assert sample.run(args) == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["--layout", "EX19MBX1"],
        ["--layout", "NOPE=custom"],
        ["--disable", "nothing"],
        ["--disable", "EX99:hub-send"],
        ["--size-mb", "0"],
        ["--restart", "EX99"],
        ["--zip", "EX99"],
    ],
)
def test_sample_command_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert sample.run(_parse([str(tmp_path / "x"), *argv])) == 2
    err = capsys.readouterr().err
    assert err.startswith("mailhops sample: error: ") and err.count("\n") == 1


def test_sample_command_refuses_foreign_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    assert sample.run(_parse([str(tmp_path)])) == 2
    assert "not empty" in capsys.readouterr().err


def test_disable_names_the_server_in_any_case(tmp_path: Path) -> None:
    options = sample._options(_parse([str(tmp_path / "x"), "--disable", "ex19mbx2:Hub-Send"]))
    assert options.is_disabled("EX19MBX2", "hub-send")
    assert not options.is_disabled("EX19MBX1", "hub-send")
