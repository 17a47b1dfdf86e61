"""The --servers file is an input of the links table: changing it must rebuild the links."""

from __future__ import annotations

from pathlib import Path

from mailhops.index.build import open_index

SAMPLE = Path(__file__).resolve().parents[2] / "sample_logs"


def test_links_are_rebuilt_when_the_servers_file_changes(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    servers = tmp_path / "servers.txt"
    servers.write_text("EX19MBX1 mbx1.nat.example 192.0.2.10\n", encoding="utf-8")

    first = open_index([SAMPLE], cache_dir=cache, servers_file=servers)
    same = open_index([SAMPLE], cache_dir=cache, servers_file=servers)
    assert first.stats.rebuilt_tables and not same.stats.rebuilt_tables

    servers.write_text("EX19MBX1 mbx1.nat.example 192.0.2.11\n", encoding="utf-8")
    edited = open_index([SAMPLE], cache_dir=cache, servers_file=servers)
    assert edited.stats.rebuilt_tables, "an edited servers file must not reuse stale links"

    dropped = open_index([SAMPLE], cache_dir=cache)
    assert dropped.stats.rebuilt_tables, "dropping --servers must not reuse its links"
    assert not open_index([SAMPLE], cache_dir=cache).stats.rebuilt_tables
