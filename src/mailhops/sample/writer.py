"""Cut each stream's time-sorted rows into Exchange log files.

One file per period (hour on 2016/2019 and for 2013+ tracking, day otherwise), ``-N``
instances when a file reaches ``max_file_bytes``; BOM and the five header lines only at the
start of each file; CRLF line ends. Rows are flushed in chunks up to a time watermark, so a
1 GB corpus never sits in memory at once.
"""

from __future__ import annotations

import shutil
import zipfile
from bisect import bisect_left
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mailhops.sample.core import Row, Sim
from mailhops.sample.fmt import header, period_name
from mailhops.sample.model import (
    CONNECTIVITY,
    CONNECTIVITY_FIELDS,
    LOG_TYPE_HEADER,
    PROTOCOL_FIELDS,
    STREAMS,
    TRACKING,
    tracking_fields,
)
from mailhops.sample.model import stream_folder as folder_of
from mailhops.sample.truth import JsonDict

_BOM = b"\xef\xbb\xbf"
_TRACKING_VERSION = {"2019": "15.02.1118.007", "2016": "15.01.2375.007", "2013": "15.00.1497.010"}


@dataclass
class _Out:
    """The open file of one stream."""

    rel_folder: str
    prefix: str
    hourly: bool
    version: str
    log_type: str
    fields: str
    server: str
    service: str
    log_kind: str
    period: int = -1
    instance: int = 0
    size: int = 0
    handle: BinaryIO | None = None
    record: JsonDict | None = None


class Writer:
    """Writes the rows of a :class:`Sim` under ``outdir`` and records every file."""

    def __init__(self, sim: Sim, outdir: Path) -> None:
        self.sim = sim
        self.outdir = outdir
        self.max_bytes = sim.options.max_file_bytes
        self.files: list[JsonDict] = []
        self._outs: dict[tuple[str, str], _Out] = {}

    def _out(self, server: str, stream: str) -> _Out:
        key = (server, stream)
        out = self._outs.get(key)
        if out is None:
            out = self._outs[key] = self._make_out(server, stream)
        return out

    def _make_out(self, server: str, stream: str) -> _Out:
        info = STREAMS[stream]
        version = self.sim.version
        if info.log_type == TRACKING:
            fields = ",".join(tracking_fields(version))
            file_version = _TRACKING_VERSION.get(version, "14.0.0.0")
            hourly = version != "2010"
        else:
            fields = CONNECTIVITY_FIELDS if info.log_type == CONNECTIVITY else PROTOCOL_FIELDS
            file_version = "14.0.0.0" if version == "2010" else "15.0.0.0"
            hourly = version in ("2016", "2019")
        layout = self.sim.options.layout(server)
        rel = f"{server}/{folder_of(layout, version, stream)}"
        return _Out(
            rel,
            info.prefix,
            hourly,
            file_version,
            LOG_TYPE_HEADER[info.log_type],
            fields,
            server,
            info.process,
            info.log_type,
        )

    def flush(self, watermark: int | None) -> None:
        """Write every buffered row older than ``watermark`` (true ms; None = everything)."""
        for (server, stream), rows in self.sim.buffers.items():
            if not rows:
                continue
            rows.sort()
            if watermark is None:
                cut = len(rows)
            else:
                cut = bisect_left(rows, (watermark + self.sim.skew[server],))
            if cut == 0:
                continue
            self._write(self._out(server, stream), rows, cut)
            del rows[:cut]

    def _write(self, out: _Out, rows: list[Row], cut: int) -> None:
        span = 3_600_000 if out.hourly else 86_400_000
        chunk: list[str] = []
        for i in range(cut):
            ms, _, line = rows[i]
            period = ms // span
            size = len(line) + 2 if line.isascii() else len(line.encode()) + 2
            if period != out.period or out.size + size > self.max_bytes:
                self._emit(out, chunk)
                chunk = []
                self._open(out, ms, period)
            chunk.append(line)
            out.size += size
        self._emit(out, chunk)

    def _emit(self, out: _Out, chunk: list[str]) -> None:
        if not chunk or out.handle is None or out.record is None:
            return
        out.handle.write(("\r\n".join(chunk) + "\r\n").encode("utf-8"))
        out.record["lines"] += len(chunk)

    def _open(self, out: _Out, ms: int, period: int) -> None:
        if out.handle is not None:
            out.handle.close()
        out.instance = out.instance + 1 if period == out.period else 1
        out.period = period
        name = period_name(out.prefix, ms, out.hourly, out.instance)
        folder = self.outdir / out.rel_folder
        folder.mkdir(parents=True, exist_ok=True)
        out.handle = (folder / name).open("wb")
        head = _BOM + header(out.version, out.log_type, ms, out.fields, self.sim.clock).encode()
        out.handle.write(head)
        out.size = len(head)
        out.record = {
            "path": f"{out.rel_folder}/{name}",
            "log_type": out.log_kind,
            "server": out.server,
            "service": out.service,
            "lines": 0,
            "bad_lines": 0,
        }
        self.files.append(out.record)

    def close(self) -> None:
        """Flush everything and close all files."""
        self.flush(None)
        for out in self._outs.values():
            if out.handle is not None:
                out.handle.close()
                out.handle = None

    def zip_servers(self, servers: tuple[str, ...]) -> None:
        """Replace each named server's folder by ``<server>.zip`` (deterministic archive)."""
        for server in servers:
            folder = self.outdir / server
            if not folder.is_dir():
                continue
            members = sorted(p for p in folder.rglob("*") if p.is_file())
            with zipfile.ZipFile(self.outdir / f"{server}.zip", "w") as archive:
                for path in members:
                    info = zipfile.ZipInfo(
                        path.relative_to(self.outdir).as_posix(), date_time=(2026, 11, 2, 0, 0, 0)
                    )
                    info.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(info, path.read_bytes())
            shutil.rmtree(folder)
            for record in self.files:
                if record["server"] == server:
                    record["path"] = f"{server}.zip!{record['path']}"
