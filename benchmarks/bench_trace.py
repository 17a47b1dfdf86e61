"""Hop linking benchmark: accuracy against the generator's truth, and speed.

    .venv/bin/python benchmarks/bench_trace.py [--size-mb 1024] [--seed 1] [--out DIR]
        [--keep] [--samples 1000]

Generates a corpus with ``mailhops.sample`` (or reuses ``--out`` when it already holds one
of the same size and seed), builds the index through ``open_index`` with timed stages, and
prints:

* link precision and recall against the truth (targets >= 0.999 and >= 0.99): a link is
  correct when both of its ends are sessions of one truth message; recall counts the truth's
  consecutive hop pairs that a link joins;
* the share of the whole index build spent in segments + servers + links (target <= 25%),
  measured in the same run (a ratio, not a wall-clock limit). Log streams are derived two
  at a time, so the segment calls' summed time is more than the wall time they took: the
  streams phase's wall time is shared between segments and sessions in proportion to
  their summed times;
* p50/p95 of ``chain()`` over random sessions (target p95 <= 20 ms), and the share of
  sampled truth messages whose chain equals the truth exactly.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import polars as pl

from mailhops.index import stages
from mailhops.index.build import open_index
from mailhops.index.chain import chain, chain_from, graph_of
from mailhops.index.chain_graph import _normalised_links
from mailhops.sample import generate

TIMES: dict[str, float] = {}
_TIMES_LOCK = threading.Lock()  # segments run in the build's stream workers


def _timed(name: str, fn: Callable[..., Any] | None) -> Callable[..., Any] | None:
    if fn is None:
        return None

    def run(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent = time.perf_counter() - t
            with _TIMES_LOCK:
                TIMES[name] = TIMES.get(name, 0.0) + spent

    return run


def _corpus(out: Path, size_mb: float, seed: int) -> None:
    stamp = out / "truth" / "bench.json"
    want = {"size_mb": size_mb, "seed": seed}
    if stamp.exists() and json.loads(stamp.read_text()) == want:
        print(f"reusing corpus {out}")
        return
    t = time.perf_counter()
    generate(out, size_mb=size_mb, seed=seed)
    stamp.write_text(json.dumps(want))
    print(f"generated {size_mb:g} MB in {time.perf_counter() - t:.1f} s -> {out}")


def _build(out: Path, cache: Path) -> tuple[Any, float]:
    fns = stages.stage_functions()
    timed = replace(
        fns,
        build_messages=_timed("segments", fns.build_messages),
        learn_servers=_timed("servers", fns.learn_servers),
        build_links=_timed("links", fns.build_links),
    )
    stages.set_stage_functions(timed)
    try:
        t = time.perf_counter()
        index = open_index([out], cache_dir=cache)
        return index, time.perf_counter() - t
    finally:
        stages.set_stage_functions(None)


def segments_wall(timings: dict[str, float]) -> float:
    """The wall time of the segment calls: the streams phase's wall time in the proportion
    of their summed time to the sessions' (both run in each stream, streams side by side)."""
    wall, sessions = timings.get("streams"), timings.get("sessions", 0.0)
    segments = TIMES.get("segments", 0.0)
    if wall is None or segments + sessions <= 0:
        return segments
    return wall * segments / (segments + sessions)


def _truth(out: Path) -> list[dict[str, Any]]:
    text = (out / "truth" / "messages.jsonl").read_text(encoding="utf-8")
    return [json.loads(x) for x in text.splitlines() if x]


def _node(h: dict[str, Any]) -> tuple[str, int]:
    return (f"{h['server']}|{h['service']}|{h['direction']}|{h['session_id']}", h["msg"])


def precision_recall(index: Any, truth: list[dict[str, Any]]) -> tuple[float, float, int, int]:
    """(precision, recall, links judged, truth edges)."""
    mo = index.messages.select("key", "msg", pl.col("mail_ord").fill_null(-1))
    to_truth = {(k, m): o for k, m, o in mo.iter_rows()}
    owner: dict[tuple[str, int], set[int]] = {}
    edges: set[tuple[tuple[str, int], tuple[str, int]]] = set()
    for i, m in enumerate(truth):
        nodes = [_node(h) for h in m["hops"]]
        for n in nodes + [_node(h) for h in m["side"]]:
            owner.setdefault(n, set()).add(i)
        edges |= set(pairwise(nodes))
    # As the chain sees them: a whole-session end maps to the session's only segment; ends
    # that are no logged session (connectivity/tracking witnesses) are gaps, not hops.
    logged = index.sessions.select("key")
    links = _normalised_links(index.links, index.messages)
    links = links.join(logged, left_on="src", right_on="key", how="semi")
    links = links.join(logged, left_on="dst", right_on="key", how="semi")
    judged = good = 0
    found: set[tuple[tuple[str, int], tuple[str, int]]] = set()
    for src, sm, dst, dm in links.select("src", "src_msg", "dst", "dst_msg").iter_rows():
        a = (src, to_truth.get((src, sm), -1) if sm >= 0 else -1)
        b = (dst, to_truth.get((dst, dm), -1) if dm >= 0 else -1)
        judged += 1
        good += bool(owner.get(a, set()) & owner.get(b, set()))
        found.add((a, b))
    hit = sum(1 for a, b in edges if (a, b) in found or (b, a) in found)
    return good / max(judged, 1), hit / max(len(edges), 1), judged, len(edges)


def exact_rate(index: Any, truth: list[dict[str, Any]], n: int, rng: random.Random) -> float:
    """Share of sampled truth messages whose chain equals the truth hops exactly."""
    graph = graph_of(index)
    sample = rng.sample(truth, min(n, len(truth)))
    ok = total = 0
    for m in sample:
        first = next((h for h in m["hops"] if h["msg"] >= 0), None)
        if first is None:
            continue
        key, mail = _node(first)
        seg = next(
            (s for s in graph.msgs_of.get(key, []) if graph.node_info((key, s)).mail_ord == mail),
            None,
        )
        if seg is None:
            continue
        total += 1
        c = chain_from(graph, f"{key}#{seg}")
        got = [(h.key, h.msg) for h in c.hops]
        ok += got == [_node(h) for h in m["hops"]]
    return ok / max(total, 1)


def chain_times(index: Any, n: int, rng: random.Random) -> tuple[float, float, float]:
    """(adjacency build s, p50 ms, p95 ms) of chain() over n random sessions."""
    t = time.perf_counter()
    graph_of(index)
    build_s = time.perf_counter() - t
    keys = index.sessions["key"].to_list()
    picks = [keys[rng.randrange(len(keys))] for _ in range(n)]
    samples = []
    for key in picks:
        t = time.perf_counter()
        chain(index, key)
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return build_s, statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def _line(name: str, value: str, target: str, ok: bool) -> str:
    return f"  {name:<34} {value:>12}   target {target:<10} {'OK' if ok else 'MISS'}"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0 when every target is met, 1 otherwise."""
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--size-mb", type=float, default=1024.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, default=None, help="corpus folder (reused when it matches)")
    p.add_argument("--keep", action="store_true", help="keep the generated corpus")
    p.add_argument("--samples", type=int, default=1000)
    args = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench_trace_"))
    out = args.out or tmp / "corpus"
    try:
        _corpus(out, args.size_mb, args.seed)
        index, total = _build(out, tmp / "cache")
        truth = _truth(out)
        rng = random.Random(args.seed)
        prec, rec, judged, edges = precision_recall(index, truth)
        adj, p50, p95 = chain_times(index, args.samples, rng)
        exact = exact_rate(index, truth, args.samples, rng)
        linking = segments_wall(index.stats.timings) + TIMES.get("servers", 0.0)
        linking += TIMES.get("links", 0.0)
        share = linking / total
        print(
            f"corpus {args.size_mb:g} MB: {index.stats.lines:,} lines, {index.sessions.height:,} "
            f"sessions, {index.messages.height:,} messages, {index.links.height:,} links, "
            f"{len(truth):,} truth messages"
        )
        print(
            f"index build {total:.2f} s; segments {TIMES.get('segments', 0):.2f} s summed over "
            f"streams ({segments_wall(index.stats.timings):.2f} s of wall time), servers "
            f"{TIMES.get('servers', 0):.2f} s, links {TIMES.get('links', 0):.2f} s; adjacency "
            f"{adj:.2f} s (once per index)"
        )
        checks = [
            _line("link precision", f"{prec:.4f}", ">= 0.999", prec >= 0.999),
            _line("link recall", f"{rec:.4f}", ">= 0.99", rec >= 0.99),
            _line("linking share of index build", f"{share:.1%}", "<= 25%", share <= 0.25),
            _line("chain() p50", f"{p50:.2f} ms", "-", True),
            _line("chain() p95", f"{p95:.2f} ms", "<= 20 ms", p95 <= 20.0),
            _line("chains equal to truth (sample)", f"{exact:.4f}", "-", True),
        ]
        print(f"links judged {judged:,}, truth edges {edges:,}")
        print("\n".join(checks))
        return 0 if all(c.endswith("OK") for c in checks) else 1
    finally:
        if args.keep and args.out is None:
            print(f"corpus kept in {out}")
            shutil.rmtree(tmp / "cache", ignore_errors=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
