"""Text formatting exactly as Exchange writes it (log-formats.md §1.2-1.4, §4, §5).

Times are integers of milliseconds since the Unix epoch (UTC) everywhere in the generator;
formatting them is the hottest part of generation, so whole seconds are cached.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_DOTNET_EPOCH: Final = datetime(1, 1, 1, tzinfo=UTC)
_DAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)


def to_ms(dt: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime."""
    delta = dt - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000


def from_ms(ms: int) -> datetime:
    """The aware UTC datetime of an epoch-milliseconds value."""
    return _EPOCH + timedelta(milliseconds=ms)


def dotnet_ticks(ms: int) -> int:
    """.NET ``DateTime.Ticks`` (100 ns since 0001-01-01) of an epoch-milliseconds value."""
    delta = from_ms(ms) - _DOTNET_EPOCH
    return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


class Clock:
    """Formats ``yyyy-MM-ddTHH:mm:ss.fffZ`` with a per-second cache."""

    def __init__(self) -> None:
        self._cache: dict[int, str] = {}

    def ts(self, ms: int) -> str:
        """The Exchange timestamp of ``ms``."""
        sec, frac = divmod(ms, 1000)
        prefix = self._cache.get(sec)
        if prefix is None:
            if len(self._cache) > 100_000:
                self._cache.clear()
            prefix = from_ms(sec * 1000).strftime("%Y-%m-%dT%H:%M:%S.")
            self._cache[sec] = prefix
        return f"{prefix}{frac:03d}Z"


def rfc2822(ms: int) -> str:
    """Banner date as Exchange writes it: ``Mon, 02 Nov 2026 08:00:00 +0000``."""
    d = from_ms(ms)
    return (
        f"{_DAYS[d.weekday()]}, {d.day:02d} {_MONTHS[d.month - 1]} {d.year} "
        f"{d.hour:02d}:{d.minute:02d}:{d.second:02d} +0000"
    )


def q(value: str) -> str:
    """CSV-quote a field the way Utf8Csv does: only when it holds ``,`` or ``"``."""
    if "," in value or '"' in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def tq(value: str) -> str:
    """Escape one member of a tracking multi-value field (``'...'`` when it holds ``;``)."""
    if ";" in value or "'" in value:
        return "'" + value.replace("'", "''") + "'"
    return value


def header(version: str, log_type: str, first_ms: int, fields: str, clock: Clock) -> str:
    """The five ``#`` header lines of a new file (without the BOM), CRLF terminated."""
    return (
        "#Software: Microsoft Exchange Server\r\n"
        f"#Version: {version}\r\n"
        f"#Log-type: {log_type}\r\n"
        f"#Date: {clock.ts(first_ms)}\r\n"
        f"#Fields: {fields}\r\n"
    )


def period_name(prefix: str, ms: int, hourly: bool, instance: int) -> str:
    """File name of a log file: ``RECV2026110208-1.LOG`` (hourly) or ``RECV20261102-1.LOG``."""
    d = from_ms(ms)
    stamp = f"{d.year:04d}{d.month:02d}{d.day:02d}"
    if hourly:
        stamp += f"{d.hour:02d}"
    return f"{prefix}{stamp}-{instance}.LOG"
