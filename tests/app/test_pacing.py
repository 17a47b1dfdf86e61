"""Frame pacing (app/pacing.py) and the main screen's repaint economy: what a key redraws."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import time
import weakref
from itertools import pairwise
from typing import Any

import pytest
from appfakes import CHAIN_HOPS, FakeIndex, settle
from textual.app import App, ComposeResult

from mailhops.app.factory import create_app
from mailhops.app.heap import Heap
from mailhops.app.pacing import FrameTimer, next_frame
from mailhops.app.screens.main import IDLE_SWEEP
from mailhops.app.widgets.hopbar import HopBar
from mailhops.index.chain_model import Chain

SIZE = (120, 40)
FIRST, SECOND, THIRD, FOURTH = (hop.key for hop in CHAIN_HOPS)


def test_a_change_is_drawn_now_or_one_interval_after_the_last_frame() -> None:
    assert next_frame(last=10.0, now=10.005, interval=0.02) == 10.02
    assert next_frame(last=10.0, now=10.5, interval=0.02) == 10.5
    assert next_frame(last=float("-inf"), now=3.0, interval=0.02) == 3.0


async def test_the_frame_timer_never_ticks_twice_within_one_interval() -> None:
    ticks: list[float] = []

    class Host(App[None]):
        pass

    app = Host()
    async with app.run_test():
        timer: FrameTimer

        def tick() -> None:
            ticks.append(time.monotonic())
            timer.pause()  # as a screen does when it draws

        timer = FrameTimer(app, 0.05, callback=tick, pause=True)
        timer._start()
        for _ in range(4):
            timer.resume()
            for _ in range(200):
                await asyncio.sleep(0.005)
                if not timer._active.is_set():
                    break
        timer.stop()
    assert len(ticks) == 4
    assert all(b - a >= 0.05 - 0.001 for a, b in pairwise(ticks))


async def test_the_main_screen_draws_through_the_frame_timer() -> None:
    app = create_app([], index=FakeIndex(), debounce=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.main
        assert screen is not None
        assert isinstance(screen._frame_timer, FrameTimer)
        # Textual's own update timer was never made: every frame went through ours.
        assert getattr(screen, "_Screen__update_timer", "gone") is None


async def test_the_heap_is_frozen_while_the_main_screen_is_up_and_thawed_after() -> None:
    app = create_app([], index=FakeIndex(), debounce=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


class BarApp(App[None]):
    def compose(self) -> ComposeResult:
        yield HopBar(id="hops")


def _markers(bar: HopBar) -> list[int]:
    return [i for i in range(len(bar.entries)) if str(bar.row_text(i)).startswith("●")]


async def test_the_same_chain_again_only_moves_the_marker() -> None:
    chain = Chain(FIRST, list(CHAIN_HOPS))
    app = BarApp()
    async with app.run_test(size=SIZE) as pilot:
        bar = app.query_one(HopBar)
        bar.set_chain(chain, FIRST)
        await pilot.pause()
        resets: list[Any] = []
        bar.reset = lambda cursor=0: resets.append(cursor)  # type: ignore[method-assign]
        copy = dataclasses.replace(chain, hops=[dataclasses.replace(h) for h in CHAIN_HOPS])
        bar.set_chain(copy, THIRD)  # an equal chain, as a worker resolves it again
        assert not resets  # no whole-bar redraw
        assert bar.chain is copy and bar.current_key == THIRD
        assert bar.cursor == bar.current_entry() and _markers(bar) == [bar.current_entry()]
        # The chain as resolved from the next hop (a hop jump): its ident is that hop's key.
        jumped = dataclasses.replace(copy, ident=FOURTH)
        bar.set_chain(jumped, FOURTH)
        assert not resets
        assert bar.chain is jumped and bar.current_key == FOURTH
        assert bar.cursor == bar.current_entry() and _markers(bar) == [bar.current_entry()]
        other = dataclasses.replace(chain, hops=list(CHAIN_HOPS[:2]))
        bar.set_chain(other, SECOND)
        assert resets  # another chain: the bar is redrawn


async def test_a_chain_with_the_same_hops_and_another_outcome_redraws_the_bar() -> None:
    chain = Chain(FIRST, list(CHAIN_HOPS), outcome="delivered")
    app = BarApp()
    async with app.run_test(size=SIZE) as pilot:
        bar = app.query_one(HopBar)
        bar.set_chain(chain, FIRST)
        await pilot.pause()
        assert "delivered" in str(bar.border_subtitle)
        bar.set_chain(dataclasses.replace(chain, ident=SECOND, outcome="deferred"), SECOND)
        assert "deferred" in str(bar.border_subtitle) and "delivered" not in str(
            bar.border_subtitle
        )
        assert _markers(bar) == [bar.current_entry()] and bar.current_key == SECOND


def test_the_heap_freezes_survivors_and_a_sweep_frees_cycles_that_died_frozen() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self  # a reference cycle: only the collector frees it

    heap = Heap()
    heap.start()
    try:
        survivor = Node()
        gc.collect(1)  # a young collection: what survives it is frozen
        assert any(o is survivor for o in _frozen_after(lambda: None))
        ref = weakref.ref(survivor)
        del survivor
        gc.collect()  # frozen: the dead cycle stays
        assert ref() is not None
        heap.sweep()
        assert ref() is None
        assert heap.grown == 0
    finally:
        heap.stop()
    assert gc.get_freeze_count() == 0 and heap._collected not in gc.callbacks


def test_the_heap_counts_what_it_freezes_without_walking_the_frozen_heap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``grown`` is read every second while keys come in: it must not walk the frozen heap
    (``gc.get_freeze_count`` does, ~20 ms for two million objects)."""

    class Node:
        def __init__(self) -> None:
            self.me = self

    heap = Heap()
    heap.start()
    try:
        before, counted = gc.get_freeze_count(), heap.grown
        kept = [Node() for _ in range(5000)]
        gc.collect(1)
        frozen = gc.get_freeze_count() - before
        assert frozen >= len(kept)

        def walk() -> int:
            raise AssertionError("grown walked the frozen heap")

        monkeypatch.setattr(gc, "get_freeze_count", walk)
        assert heap.grown - counted == frozen
        monkeypatch.undo()
        heap.sweep()
        assert heap.grown == 0
    finally:
        heap.stop()
    del kept


def _frozen_after(step: Any) -> list[Any]:
    """Objects frozen (thawed for a look, frozen again)."""
    step()
    before = set(map(id, gc.get_objects()))
    gc.unfreeze()
    frozen = [o for o in gc.get_objects() if id(o) not in before]
    gc.freeze()
    return frozen


async def test_the_heap_is_swept_once_per_pause_between_keys() -> None:
    app = create_app([], index=FakeIndex(), debounce=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.main
        assert screen is not None
        sweeps: list[int] = []
        screen.heap.sweep = lambda: sweeps.append(1)  # type: ignore[method-assign]
        screen._last_key = time.monotonic() - IDLE_SWEEP - 1
        screen._sweep_when_idle()
        screen._sweep_when_idle()
        assert sweeps == [1]  # once per pause
        await pilot.press("down")
        screen._sweep_when_idle()
        assert sweeps == [1]  # a key just came
        screen._last_key -= IDLE_SWEEP + 1
        screen._sweep_when_idle()
        assert sweeps == [1, 1]


async def test_go_to_searches_off_the_ui_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding an id scans every session (hundreds of ms over a million): not while keys
    wait. The session is selected once the search is done."""
    import threading

    from mailhops.app.screens import actions

    threads: list[bool] = []
    real = actions.find_ident

    def find(sessions: Any, ident: str) -> Any:
        threads.append(threading.current_thread() is threading.main_thread())
        return real(sessions, ident)

    monkeypatch.setattr(actions, "find_ident", find)
    app = create_app([], index=FakeIndex(), debounce=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.main
        assert screen is not None
        target = screen.sessions["key"][-1]
        assert screen.current_key != target
        screen.goto_ident(target.rsplit("|", 1)[1].lower())
        await settle(pilot)
        assert threads == [False]
        assert screen.current_key == target


def test_the_hop_bar_says_why_a_chain_failed() -> None:
    from mailhops.app.widgets.hopbar import _outcome

    failed = Chain(ident="x", outcome="rejected", outcome_detail="550 5.1.1 \x1b[31mUser unknown")
    assert _outcome(failed) == "rejected: 550 5.1.1 \\x1b[31mUser unknown"
    delivered = Chain(ident="x", outcome="delivered", outcome_detail="250 2.0.0 OK")
    assert _outcome(delivered) == "delivered"
