"""Build a corpus with every fault of issue 5 injected and check the index against the truth.

    .venv/bin/python benchmarks/bench_hostile.py [--size-mb N] [--seed N] [--many N] [--keep DIR]

Generates a corpus (mailhops.sample), injects the faults (mailhops.hostile.inject: malformed
lines, undecodable bytes, long lines, mid-file headers, whole-file faults, a truncated last
line, hostile-but-valid sessions), adds a zip with path-traversal members, a zip bomb and
thousands of small files, then indexes it and prints expected vs counted figures, control
bytes found in every text output (CLI show / trace --text / sessions --csv / --json, the app's
CSV/JSON export) and files modified in the corpus, with a PASS/FAIL line for each.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from mailhops import hostile, hostile_files
from mailhops.cli import main as cli_main
from mailhops.index.build import open_index
from mailhops.sample import generate

_UNSAFE = {*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0)}
_UNSAFE |= {*range(0x202A, 0x202F), *range(0x2066, 0x206A)}


DECODED = "sessions --json, strings as decoded (what `jq -r` prints)"


def unsafe_count(text: str) -> int:
    """Control characters (C0 but tab/LF, DEL, C1, ESC) and bidi overrides in ``text``."""
    return sum(1 for c in text if ord(c) in _UNSAFE)


def tree_hash(root: Path) -> dict[str, tuple[str, int]]:
    """path -> (sha256, mtime_ns) of every file under ``root``."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[str(p)] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
    return out


def cli(*argv: str) -> str:
    """Run one headless command in-process and return its stdout."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main(list(argv))
    if code != 0 or "Traceback" in err.getvalue():
        raise SystemExit(f"mailhops {' '.join(argv)} failed ({code}): {err.getvalue()}")
    return out.getvalue()


def build_corpus(root: Path, size_mb: float, seed: int, many: int) -> tuple[Path, dict]:
    """Generate, inject, add zips and small files; return the tree and the figures' truth."""
    tree = root / "logs"
    generate(tree, size_mb=size_mb, seed=seed)
    truth_dir = tree / "truth"
    truth_dir.rename(root / "truth")  # the corpus holds logs only
    t = hostile.inject(tree, seed=seed)
    sample = hostile._pick(hostile.log_files(tree), "SMTP Receive Protocol Log", "")[-1]
    log = sample.read_bytes() if not t.files[str(sample)].held_back else b""
    log = log or next(Path(p).read_bytes() for p, f in t.files.items() if f.valid_lines > 50)
    hostile_files.make_traversal_zip(tree / "collected.zip", log)
    hostile_files.make_bomb_zip(tree / "bomb.zip", log)
    many_lines = hostile_files.make_many_files(
        tree / "EX19MBX9" / "FrontEnd" / "ProtocolLog", many, log
    )
    # The zips' good members are the tree's receive log again, and the hostile member is that
    # log plus a bad line: one log given four times, indexed once (index/copies.py).
    valid = t.valid_total + many_lines
    zip_bad = (f"{tree / 'collected.zip'}!{hostile_files.HOSTILE_MEMBER}", log.count(b"\n") + 1)
    facts = {"truth": t, "valid": valid, "zip_members_rejected": 4, "bad": {*t.bad_set(), zip_bad}}
    return tree, facts


def outputs(tree: Path, cache: Path, t: hostile.FaultTruth, out_dir: Path) -> dict[str, str]:
    """Every text output that carries log text, by name."""
    paths = [str(tree), "--cache", str(cache)]
    res: dict[str, str] = {}
    for sid in [*t.hostile_sessions, *t.hostile_send_sessions]:
        res[f"show {sid}"] = cli("show", sid, *paths)
        res[f"show --json {sid}"] = cli("show", sid, *paths, "--json")
        res[f"trace --text {sid}"] = cli("trace", sid, *paths, "--text")
        res[f"trace --json {sid}"] = cli("trace", sid, *paths, "--json")
    res["index"] = cli("index", *paths)
    res["index --json"] = cli("index", *paths, "--json")
    res["sessions --csv"] = cli("sessions", *paths, "--search", "0BAD", "--csv")
    raw_json = cli("sessions", *paths, "--search", "0BAD", "--json")
    res["sessions --json"] = raw_json
    res[DECODED] = "\n".join(_strings(json.loads(raw_json)))
    res.update(_app_exports(tree, cache, out_dir))
    return res


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _app_exports(tree: Path, cache: Path, out_dir: Path) -> dict[str, str]:
    try:
        from mailhops.app.export import export_frame
    except ImportError:
        return {}
    index = open_index([tree], cache_dir=cache)
    frame = index.sessions.filter(pl.col("session_id").str.starts_with("0BAD"))
    res = {}
    for suffix in (".csv", ".json"):
        path = export_frame(frame, out_dir / f"export{suffix}", [tree])
        res[f"app export {suffix}"] = path.read_text(encoding="utf-8", errors="replace")
    return res


def report(name: str, expected: object, got: object) -> bool:
    """Print one figure with its PASS/FAIL verdict."""
    ok = expected == got
    print(f"{'PASS' if ok else 'FAIL'}  {name}: expected {expected}, got {got}")
    return ok


def run(size_mb: float, seed: int, many: int, root: Path) -> int:
    """The whole benchmark; returns the process exit code."""
    t0 = time.perf_counter()
    tree, facts = build_corpus(root, size_mb, seed, many)
    t: hostile.FaultTruth = facts["truth"]
    corpus_bytes = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())
    n_files = sum(1 for p in tree.rglob("*") if p.is_file())
    print(
        f"corpus: {corpus_bytes / 1e6:.1f} MB, {n_files} files, "
        f"built in {time.perf_counter() - t0:.1f} s; faults: {', '.join(sorted(t.injected))}"
    )
    before = tree_hash(tree)
    cache = root / "cache"
    t1 = time.perf_counter()
    try:
        index = open_index([tree], cache_dir=cache)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        print(f"FAIL  index build crashed: {type(exc).__name__}: {str(exc)[:200]}")
        return 1
    cold = time.perf_counter() - t1
    t2 = time.perf_counter()
    warm_index = open_index([tree], cache_dir=cache)
    warm = time.perf_counter() - t2
    print(f"cold index: {cold:.2f} s; warm open: {warm:.2f} s ({warm / cold:.2f}x cold)")
    errors = index.problems.filter(pl.col("severity") == "error")
    line_errors = errors.filter(pl.col("line") > 0)
    counted = set(zip(line_errors["path"], line_errors["line"], strict=True))
    checks = [
        report("bad lines (count)", len(facts["bad"]), index.stats.bad_lines),
        report("bad lines (same file+line set)", True, counted == facts["bad"]),
        report("valid lines indexed", facts["valid"], index.stats.lines),
        report(
            "file-level errors (skipped files, unsafe zip members)",
            len({p for p, f in t.files.items() if f.file_severity == "error"})
            + facts["zip_members_rejected"],
            errors.filter(pl.col("line") == 0).height,
        ),
    ]
    from mailhops.index import build  # the commands look open_index up at call time

    build.open_index = lambda *a, **k: warm_index  # type: ignore[assignment]  # open once
    texts = outputs(tree, cache, t, root)
    found = {name: unsafe_count(text) for name, text in texts.items()}
    printed = {k: n for k, n in found.items() if k != DECODED}
    for name, n in printed.items():
        if n:
            print(f"      control/bidi characters in {name}: {n}")
    kinds = ", ".join(sorted({k.split(" 0")[0] for k in printed}))
    print(f"      outputs checked: {len(printed)} ({kinds})")
    checks.append(report("control bytes in outputs (as printed)", 0, sum(printed.values())))
    checks.append(report(f"control characters in {DECODED}", 0, found[DECODED]))
    after = tree_hash(tree)
    modified = sum(1 for k in before if after.get(k) != before[k]) + len(set(after) - set(before))
    checks.append(report("files modified or created in the corpus", 0, modified))
    print(f"{'PASS' if all(checks) else 'FAIL'}  overall ({sum(checks)}/{len(checks)} checks)")
    return 0 if all(checks) else 1


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run in a temporary folder (or ``--keep DIR``)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=float, default=50.0, help="generated corpus size (50)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--many", type=int, default=3000, help="small files to add (3000)")
    ap.add_argument("--keep", type=Path, help="build in DIR and keep it")
    args = ap.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=False)
        return run(args.size_mb, args.seed, args.many, args.keep)
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        os.chdir(tmp)  # nothing may appear in the working directory either
        return run(args.size_mb, args.seed, args.many, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
