"""Write screenshots/*.svg from sample_logs/ by driving the app itself.

    .venv/bin/python scripts/screenshots.py [--logs sample_logs] [--out screenshots]

The index is built in a temporary cache directory (nothing is written into the log folder);
the app runs headless through Textual's test driver, like the Pilot tests.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mailhops.app.factory import create_app
from mailhops.index.build import open_index

ROOT = Path(__file__).resolve().parents[1]
SIZE = (140, 42)


def pick_sessions(index: Any) -> dict[str, str]:
    """Choose the sessions to show: a long chain, a chain with a gap, a failed session."""
    picks: dict[str, str] = {}
    receive = index.sessions.filter(index.sessions["direction"] == "receive").sort("start")
    for key in receive["key"]:
        try:
            chain = index.chain(key)
        except (LookupError, ValueError) as exc:  # a linker bug must not stop the screenshots
            print(f"skipping {key}: {exc}", file=sys.stderr)
            continue
        if getattr(chain, "error", ""):
            continue
        if "chain" not in picks and len(chain.hops) >= 4 and not chain.gaps:
            picks["chain"] = key
        if "gap" not in picks and chain.gaps:
            picks["gap"] = key
        if len(picks) == 2:
            break
    if "chain" not in picks:
        raise SystemExit("no chain with 4 hops in the sample logs")
    picks.setdefault("gap", picks["chain"])
    return picks


async def settle(pilot: Any) -> None:
    """Let workers finish and their messages land (the summaries come after the first frame)."""
    for _ in range(4):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    screen = pilot.app.main
    for _ in range(100):
        if screen is None or screen.summaries_shown:
            break
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


Step = Callable[[Any], Any]


async def shoot(logs: Path, cache: Path, out: Path, name: str, steps: list[Step]) -> Path:
    """Open the app on ``logs``, run ``steps`` (async callables of the pilot), save ``name``."""
    app = create_app([logs], cache_dir=cache, debounce=0)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(200):
            await settle(pilot)
            if app.main is not None:
                break
        await settle(pilot)
        for step in steps:
            await step(pilot)
            await settle(pilot)
        return Path(app.save_screenshot(filename=f"{name}.svg", path=str(out)))


def goto(key: str) -> Step:
    async def step(pilot: Any) -> None:
        pilot.app.main.goto_ident(key)

    return step


def press(*keys: str) -> Step:
    async def step(pilot: Any) -> None:
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return step


def filter_query(query: str) -> Step:
    async def step(pilot: Any) -> None:
        await pilot.press("slash")
        await pilot.press(*query)
        await pilot.press("enter")

    return step


def no_blink(pilot: Any) -> Any:
    async def step(pilot: Any) -> None:
        from textual.widgets import TextArea

        for area in pilot.app.screen.query(TextArea):
            area.cursor_blink = False

    return step(pilot)


async def main_async(logs: Path, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mailhops-shots-") as tmp:
        cache = Path(tmp)
        picks = pick_sessions(open_index([logs], cache_dir=cache))
        chain = picks["chain"]
        return [
            await shoot(logs, cache, out, "main", [goto(chain)]),
            await shoot(logs, cache, out, "chain-gap", [goto(picks["gap"])]),
            await shoot(logs, cache, out, "side-by-side", [goto(chain), press("v")]),
            await shoot(logs, cache, out, "filter", [filter_query("outcome:failed noise:on")]),
            await shoot(logs, cache, out, "copy-popup", [goto(chain), press("C"), no_blink]),
        ]


def main(argv: list[str] | None = None) -> int:
    """Write the screenshots; print their paths."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=Path, default=ROOT / "sample_logs")
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    args = parser.parse_args(argv)
    if not args.logs.is_dir():
        print(f"{args.logs}: no such folder (generate it with `mailhops sample`)", file=sys.stderr)
        return 2
    for path in asyncio.run(main_async(args.logs, args.out)):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
