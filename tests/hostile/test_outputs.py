"""Hostile text never reaches a terminal through the CLI; the log folders are never modified."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hostilekit import Corpus, json_strings, listing, tree_hash, unsafe_chars

from mailhops import hostile
from mailhops.cli import main
from mailhops.safe_text import clean


def cli(*argv: str) -> str:
    """Run the CLI in-process; return stdout (it must succeed without a traceback)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    assert "Traceback" not in err.getvalue()
    assert code == 0, err.getvalue()
    return out.getvalue()


@pytest.fixture(scope="module")
def outputs(corpus: Corpus, built: Any) -> dict[str, str]:
    """Every text output for the hostile sessions; the tree is hashed around them."""
    before = tree_hash(corpus.tree)
    with pytest.MonkeyPatch.context() as mp:
        _memoize_open_index(mp)
        out = _collect(corpus, str(corpus.tree), str(corpus.cache))
    assert tree_hash(corpus.tree) == before, "the CLI modified the log folders"
    return out


def _memoize_open_index(mp: pytest.MonkeyPatch) -> None:
    """Open the index once for the ~40 commands: this module tests what they print (every
    command's own warm open runs in test_commands_write_nothing_outside_the_cache)."""
    from mailhops.index import build

    real, memo = build.open_index, {}

    def open_once(paths: Any, **kwargs: Any) -> Any:
        key = (tuple(map(str, paths)), str(kwargs.get("cache_dir")))
        if key not in memo:
            memo[key] = real(paths, **kwargs)
        return memo[key]

    mp.setattr(build, "open_index", open_once)


def _collect(corpus: Corpus, tree: str, cache: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for sid in [*corpus.truth.hostile_sessions, *corpus.truth.hostile_send_sessions]:
        out[f"show {sid}"] = cli("show", sid, tree, "--cache", cache)
        out[f"trace {sid}"] = cli("trace", sid, tree, "--cache", cache, "--text")
        out[f"show --json {sid}"] = cli("show", sid, tree, "--cache", cache, "--json")
        out[f"trace --json {sid}"] = cli("trace", sid, tree, "--cache", cache, "--json")
    for fmt in ("--csv", "--json"):
        out[f"sessions {fmt}"] = cli("sessions", tree, "--cache", cache, "--search", "0BAD", fmt)
    out["index --json"] = cli("index", tree, "--cache", cache, "--json")
    out["index"] = cli("index", tree, "--cache", cache)
    return out


def test_hostile_sessions_are_found(corpus: Corpus, outputs: dict[str, str]) -> None:
    rows = list(csv.DictReader(io.StringIO(outputs["sessions --csv"])))
    found = {r["session_id"] for r in rows}
    hostile_ids = {**corpus.truth.hostile_sessions, **corpus.truth.hostile_send_sessions}
    assert set(hostile_ids) <= found
    for sid in hostile_ids:
        assert sid in outputs[f"show {sid}"]
        assert sid in outputs[f"trace {sid}"]


def test_no_control_bytes_or_bidi_in_any_output(outputs: dict[str, str]) -> None:
    found = {name: unsafe_chars(text) for name, text in outputs.items()}
    assert {k: v for k, v in found.items() if v} == {}


def test_hostile_payloads_stay_visible_not_silent(corpus: Corpus, outputs: dict[str, str]) -> None:
    """The admin sees that something was there: an escape is shown, markup stays literal."""
    hostile_ids = {**corpus.truth.hostile_sessions, **corpus.truth.hostile_send_sessions}
    for sid, name in hostile_ids.items():
        text = outputs[f"show {sid}"]
        if name in ("osc52", "clear"):
            assert "\\x1b" in text, name
        if name == "bidi":
            assert "\\u202e" in text.lower(), name
        if name in ("bold", "link", "click"):
            assert hostile.PAYLOADS[name] in text, name
    csv_text = outputs["sessions --csv"]
    for literal in hostile.MARKUP_LITERALS:
        assert literal in csv_text


def test_show_prints_every_hostile_field(corpus: Corpus, outputs: dict[str, str]) -> None:
    for sid in corpus.truth.hostile_sessions:
        text = outputs[f"show {sid}"]
        for needle in (
            "EHLO evil",
            "MAIL FROM:<x",
            "RCPT TO:<v",
            "hostile data",
            "hostile context",
        ):
            assert needle in text, (sid, needle)


def test_hostile_file_name_is_reported_visibly(corpus: Corpus, outputs: dict[str, str]) -> None:
    """A file name with an escape sequence appears in the problem list, inert."""
    assert hostile.HOSTILE_NAME not in outputs["index"]
    assert "[bold red]" in outputs["index"] and "\\x1b]52" in outputs["index"]
    problems = json.loads(outputs["index --json"])["problems"]
    # JSON strings are cleaned too (jq -r must not replay the escape): the name is there,
    # with its control characters as visible escapes.
    assert not any(hostile.HOSTILE_NAME in p["file"] for p in problems)
    assert any(clean(hostile.HOSTILE_NAME) in p["file"] for p in problems)


def test_json_output_is_valid_and_escapes_controls(outputs: dict[str, str]) -> None:
    doc = json.loads(outputs["sessions --json"])
    assert len(doc) >= len(hostile.PAYLOADS)
    json.loads(outputs["index --json"])


def test_decoded_json_strings_carry_no_controls(outputs: dict[str, str]) -> None:
    doc = json.loads(outputs["sessions --json"])
    assert [s for s in json_strings(doc) if unsafe_chars(s)] == []


def test_commands_write_nothing_outside_the_cache(
    corpus: Corpus, built: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    tree_before, listing_before = tree_hash(corpus.tree), listing(corpus.tree)
    sid = next(iter(corpus.truth.hostile_sessions))
    tree, cache = str(corpus.tree), str(tmp_path / "cache")
    cli("index", tree, "--cache", cache)
    cli("show", sid, tree, "--cache", cache)
    cli("trace", sid, tree, "--cache", cache, "--text")
    cli("sessions", tree, "--cache", cache, "--csv")
    assert tree_hash(corpus.tree) == tree_before
    assert listing(corpus.tree) == listing_before
    assert listing(tmp_path / "cwd") == set()
    assert {p.name for p in tmp_path.iterdir()} == {"cache", "cwd"}
