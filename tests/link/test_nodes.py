"""The node table's session lookup: each message finds its own session's row."""

from __future__ import annotations

import polars as pl

from mailhops.index.links_common import _rows_of


def test_each_key_finds_its_row_in_the_order_it_came() -> None:
    keys = pl.Series(["s2", "s1", "s2", "gone", "s3"])
    table = pl.Series(["s1", "s2", "s3"])
    assert _rows_of(keys, table).to_list() == [1, 0, 1, None, 2]


def test_a_repeated_table_key_never_repeats_a_message() -> None:
    keys = pl.Series(["a", "b", "a"])
    rows = _rows_of(keys, pl.Series(["b", "a", "a"]))
    assert rows.to_list() == [1, 0, 1]  # the first "a"; still one row a message
