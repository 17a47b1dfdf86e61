"""Run a generation: schedule events, flush rows to files, write the ground truth."""

from __future__ import annotations

import shutil
from pathlib import Path

from mailhops.sample.core import Sim
from mailhops.sample.events import Events
from mailhops.sample.model import SampleOptions
from mailhops.sample.truth import Truth, message_record, session_record
from mailhops.sample.writer import Writer

_BYTES_PER_EVENT = 25000  # measured average over all streams; only sets the traffic rate
_FLUSH_BYTES = 48 * 1024 * 1024


def generate(
    outdir: Path | str,
    *,
    size_mb: float = 3.0,
    seed: int = 1,
    options: SampleOptions | None = None,
) -> Truth:
    """Write a deterministic Exchange log tree of about ``size_mb`` MB plus its truth.

    Same arguments -> byte-identical output. ``outdir`` must be empty or absent, or hold a
    previous generator output (recognised by its ``truth/`` folder), which is replaced.
    """
    options = options or SampleOptions()
    options.validate()
    if size_mb <= 0:
        raise ValueError("size_mb must be positive")
    out = Path(outdir)
    _prepare(out)
    sim = Sim(options, seed)
    events = Events(sim)
    writer = Writer(sim, out)
    _run(sim, events, writer, int(size_mb * 1_000_000))
    events.channels.close_all()
    writer.close()
    writer.zip_servers(options.zip_servers)
    truth = Truth(
        writer.files,
        [session_record(s) for s in sim.sessions],
        [message_record(m) for m in events.mails],
    )
    truth.write(out / "truth")
    _readme(out, truth, options, size_mb, seed)
    return truth


def _run(sim: Sim, events: Events, writer: Writer, target: int) -> None:
    rng = sim.rng
    hours = min(24.0, 1.2 + target / 1_000_000 * 0.25)
    mean_gap = hours * 3_600_000 / max(1.0, target / _BYTES_PER_EVENT)
    handlers = events.handlers()
    opening = len(events.kinds()[0])
    t = sim.start_ms + rng.randrange(1000)
    index = 0
    written = 0
    restarts = sim.options.restart
    # The opening round always completes, so even tiny corpora hold every kind of event.
    while sim.bytes < target or index < opening:
        events.channels.expire(t)
        handlers[events.choose(index)](t)
        index += 1
        if restarts and sim.bytes >= target // 2 and index >= opening:
            for server in restarts:
                events.restart(server, t + 1)
            restarts = ()
        if sim.bytes - written > _FLUSH_BYTES:
            writer.flush(events.channels.low_water(t))
            written = sim.bytes
        # Bursts make sessions overlap, so rows of concurrent sessions interleave.
        gap = rng.randint(0, 400) if rng.random() < 0.2 else int(rng.expovariate(1 / mean_gap))
        t += gap + 1


def _prepare(out: Path) -> None:
    if not out.exists():
        out.mkdir(parents=True)
        return
    children = list(out.iterdir())
    if not children:
        return
    if not (out / "truth" / "files.jsonl").is_file():
        raise FileExistsError(f"{out} is not empty and holds no generator output")
    for child in children:
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


def _readme(out: Path, truth: Truth, options: SampleOptions, size_mb: float, seed: int) -> None:
    servers = ", ".join(f"{s} ({options.layout(s)} layout)" for s in options.servers)
    lines = sum(f["lines"] for f in truth.files)
    off = ""
    if options.disabled:
        flags = " ".join(f"--disable {d}" for d in sorted(options.disabled))
        off = (
            f"\nProtocol logging off (as on a server left at Exchange's defaults): "
            f"{', '.join(sorted(options.disabled))}\n(`{flags}`): those hops are gaps.\n"
        )
    text = f"""# Generated Exchange transport logs

Written by `mailhops sample` (mailhops.sample.generate) with size_mb={size_mb:g}, seed={seed},
Exchange version {options.version}. Everything here is synthetic (contoso.lab, documentation
IP ranges); regenerate it with the same arguments to get byte-identical files.

Servers: {servers}.
Files: {len(truth.files)}, data lines: {lines}, sessions: {len(truth.sessions)},
messages: {len(truth.messages)}.
{off}
`truth/` holds the ground truth as JSON Lines: `files.jsonl` (every log file and its line
count), `sessions.jsonl` (every logged session, its outcome and whether it is noise) and
`messages.jsonl` (every message with the sessions that carried it in path order, shadow
copies as `side`, and `gaps` where a hop's stream was not logged).
"""
    (out / "README.md").write_text(text, encoding="utf-8", newline="\n")
