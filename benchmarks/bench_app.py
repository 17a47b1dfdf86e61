"""App speed on a million sessions: first paint, cursor move, hop jump, vs Textual's DataTable.

    .venv/bin/python benchmarks/bench_app.py [--sessions 1000000] [--datatable-rows N]

Corpus: the project's generator (``mailhops sample``) writes a small multi-server corpus, the
real ``open_index`` indexes it, and its SESSIONS table is replicated (``SID.r`` ids, times
shifted) until it holds ``--sessions`` rows; ``chain``/``transcript`` of a replica answer from
the real index (its template session) with the replica's ids, so hop jumps run the real linker.
Warm cache: the replicated SESSIONS table is written to Parquet first and the timed start reads
it back, as ``open_index`` does on a warm cache.

Printed (no wall-clock asserts): time to first paint of mailhops and of a DataTable app loading
the same rows (ratio), and median / p95 of a cursor move and of a hop jump in both apps
(DataTable has no hops). Targets: first paint < 1 s, p95 < 50 ms, >= 20x faster first paint.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from mailhops.app.factory import create_app
from mailhops.app.render import SESSION_COLUMNS
from mailhops.app.widgets.sessions import SessionsTable
from mailhops.index.build import open_index

SIZE = (160, 45)


class ReplicaIndex:
    """A LogIndex stand-in: replicated sessions, chains and transcripts from the template."""

    def __init__(self, base: Any, sessions: pl.DataFrame) -> None:
        self.base = base
        self.sessions = sessions
        self.files = base.files
        self.problems = base.problems
        self._chains: dict[str, Any] = {}

    @staticmethod
    def split(key: str) -> tuple[str, str]:
        """Return (template key, replica suffix) of a replica session key."""
        head, _, sid = key.rpartition("|")
        template, dot, replica = sid.partition(".")
        return f"{head}|{template}", (dot + replica)

    def transcript(self, key: str) -> pl.DataFrame:
        template, suffix = self.split(key)
        frame = self.base.transcript(template)
        return frame.with_columns(pl.col("session_id") + suffix) if suffix else frame

    def chain(self, ident: str) -> Any:
        template, suffix = self.split(ident)
        if template not in self._chains:
            self._chains[template] = self.base.chain(template)
        chain = self._chains[template]
        if not suffix or getattr(chain, "error", ""):
            return chain

        def rename(hop: Any) -> Any:
            return dataclasses.replace(
                hop, session_id=hop.session_id + suffix, key=(hop.key + suffix) if hop.key else ""
            )

        return dataclasses.replace(
            chain,
            hops=[rename(h) for h in chain.hops],
            side=[rename(h) for h in chain.side],
        )

    def summary(self) -> dict[str, object]:
        return {"sessions": self.sessions.height}


def replicate(sessions: pl.DataFrame, target: int) -> pl.DataFrame:
    """Copy ``sessions`` until ``target`` rows: replica r gets ids ``SID.r``, times shifted."""
    span = (sessions["end"].max() - sessions["start"].min()) + pl.duration(seconds=1)  # type: ignore[operator]
    copies = -(-target // sessions.height)
    parts = []
    for r in range(copies):
        suffix = f".{r}" if r else ""
        shift = span * r  # type: ignore[operator]
        parts.append(
            sessions.with_columns(
                (pl.col("session_id") + suffix),
                (pl.col("key") + suffix),
                pl.col("start") + shift,
                pl.col("end") + shift,
            )
        )
    return pl.concat(parts).head(target)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def settle(pilot: Any) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def bench_mailhops(base: Any, parquet: Path, moves: int, jumps: int) -> dict[str, Any]:
    """First paint from the warm Parquet, then cursor moves and hop jumps."""
    started = time.perf_counter()
    index = ReplicaIndex(base, pl.read_parquet(parquet))
    read = time.perf_counter() - started
    app = create_app([], index=index)
    async with app.run_test(size=SIZE) as pilot:
        while app.main is None or app.main.query_one(SessionsTable).row_count() == 0:
            await pilot.pause()
        await pilot.pause()
        first_paint = time.perf_counter() - started
        await settle(pilot)
        screen = app.main
        move_times = []
        for i in range(moves):
            key = "pagedown" if i % 10 == 9 else "down"
            t = time.perf_counter()
            await pilot.press(key)
            await pilot.pause()
            move_times.append(time.perf_counter() - t)
        await settle(pilot)
        redraws = redraw_times(screen.query_one(SessionsTable), moves)
        # Hop jumps: load the target's chain and transcript at once, and time all of it.
        screen.debounce = 0
        jump_times = []
        for start in chain_starts(index, jumps):
            screen.goto_ident(start)
            await settle(pilot)
            for _ in range(3):
                before = screen.current_key
                t = time.perf_counter()
                await pilot.press("right_square_bracket")
                await settle(pilot)
                if screen.current_key == before:
                    break
                jump_times.append(time.perf_counter() - t)
            if len(jump_times) >= jumps:
                break
    return {
        "read": read,
        "first_paint": first_paint,
        "moves": move_times,
        "jumps": jump_times,
        "redraws": redraws,
    }


def redraw_times(widget: Any, moves: int) -> list[float]:
    """Our own cost of a cursor move: move it, then render every visible line.

    Excludes Textual's frame pacing and the pilot's idle waits, which the key-press figures
    include; the same function measures the DataTable, whose rows are Line API lines too.
    """
    times = []
    height = widget.size.height
    for i in range(moves):
        t = time.perf_counter()
        if isinstance(widget, DataTable):
            widget.move_cursor(row=widget.cursor_row + (height if i % 10 == 9 else 1))
        else:
            widget.cursor = widget.cursor + (height if i % 10 == 9 else 1)
        for y in range(height):
            widget.render_line(y)
        times.append(time.perf_counter() - t)
    return times


def chain_starts(index: ReplicaIndex, wanted: int) -> list[str]:
    """Session keys (spread over the replicas) whose chain has at least 3 hops."""
    receive = index.sessions.filter(
        pl.col("service") == "FrontEnd", pl.col("direction") == "receive"
    )
    step = max(1, receive.height // max(1, wanted * 4))
    starts = []
    for key in receive["key"].gather_every(step):
        try:
            chain = index.chain(key)
        except (LookupError, ValueError):
            continue
        if not getattr(chain, "error", "") and len(chain.hops) >= 3:
            starts.append(chain.hops[0].key)
        if len(starts) >= wanted:
            break
    return starts


class TableApp(App[None]):
    """The baseline: Textual's DataTable holding every session row."""

    def __init__(self, rows: list[tuple[str, ...]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        yield DataTable(cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*(title for title, _ in SESSION_COLUMNS))
        table.add_rows(self.rows)
        table.focus()


def table_rows(frame: pl.DataFrame) -> list[tuple[str, ...]]:
    """The same ten columns as the sessions pane, as strings."""
    shown = frame.select(
        pl.col("start").dt.strftime("%m-%d %H:%M:%S%.3f"),
        "outcome",
        "server",
        pl.col("service") + " " + pl.col("direction"),
        "session_id",
        "remote_ep",
        "ehlo",
        "mail_from",
        pl.col("rcpt_to").list.first(),
        pl.col("message_ids").list.first(),
    ).fill_null("")
    return list(shown.iter_rows())


async def bench_datatable(parquet: Path, limit: int, moves: int) -> dict[str, Any]:
    """First paint of a DataTable app loading the rows from the same Parquet."""
    started = time.perf_counter()
    frame = pl.read_parquet(parquet)
    if limit:
        frame = frame.head(max(limit, 0))  # -1: no rows (startup cost alone)
    app = TableApp(table_rows(frame))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        first_paint = time.perf_counter() - started
        move_times = []
        for i in range(moves):
            t = time.perf_counter()
            await pilot.press("pagedown" if i % 10 == 9 else "down")
            await pilot.pause()
            move_times.append(time.perf_counter() - t)
        redraws = redraw_times(app.query_one(DataTable), moves)
    return {
        "first_paint": first_paint,
        "moves": move_times,
        "rows": frame.height,
        "redraws": redraws,
    }


def report(name: str, values: list[float]) -> str:
    if not values:
        return f"{name}: no samples"
    med, p95 = statistics.median(values) * 1000, percentile(values, 0.95) * 1000
    return f"{name}: median {med:.1f} ms, p95 {p95:.1f} ms ({len(values)} samples)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument(
        "--datatable-rows",
        type=int,
        default=0,
        help="cap the DataTable baseline (0: all rows; ratio is then scaled)",
    )
    parser.add_argument("--moves", type=int, default=200)
    parser.add_argument("--jumps", type=int, default=60)
    parser.add_argument(
        "--logs",
        type=Path,
        default=None,
        help="corpus to index (default: generate one with mailhops.sample)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mailhops-bench-app-") as tmp:
        work = Path(tmp)
        logs = args.logs or generate(work / "logs")
        base = open_index([logs], cache_dir=work / "cache")
        sessions = replicate(base.sessions, args.sessions)
        parquet = work / "sessions.parquet"
        sessions.write_parquet(parquet)
        print(f"corpus: {base.sessions.height:,} generated sessions -> {sessions.height:,} rows")
        print(f"machine load average before the run: {os.getloadavg()[0]:.1f}")
        ours = asyncio.run(bench_mailhops(base, parquet, args.moves, args.jumps))
        theirs = asyncio.run(bench_datatable(parquet, args.datatable_rows, args.moves))
        empty = asyncio.run(bench_datatable(parquet, -1, 0))["first_paint"]
    scale = sessions.height / theirs["rows"]
    # Extrapolate only the part that grows with the rows (startup is paid once).
    table_paint = empty + (theirs["first_paint"] - empty) * scale
    print(
        f"mailhops first paint: {ours['first_paint'] * 1000:.0f} ms (target < 1000 ms), of which "
        f"reading the warm Parquet {ours['read'] * 1000:.0f} ms"
    )
    extra = (
        f" (measured {theirs['rows']:,} rows, row-dependent part scaled x{scale:.1f}; "
        f"empty DataTable app {empty * 1000:.0f} ms)"
        if scale > 1
        else ""
    )
    print(f"DataTable first paint: {table_paint * 1000:.0f} ms{extra}")
    print(f"first paint ratio: {table_paint / ours['first_paint']:.1f}x faster (target >= 20x)")
    print(report("mailhops cursor move", ours["moves"]))
    print(report("DataTable cursor move", theirs["moves"]))
    print(report("mailhops cursor move, redraw only", ours["redraws"]))
    print(report("DataTable cursor move, redraw only", theirs["redraws"]))
    print(report("mailhops hop jump", ours["jumps"]))
    return 0


def generate(out: Path) -> Path:
    """Write a sample corpus with the project's generator."""
    from mailhops.sample import generate as sample_generate

    sample_generate(out)
    return out


if __name__ == "__main__":
    sys.exit(main())
