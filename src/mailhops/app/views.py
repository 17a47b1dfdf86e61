"""Small aggregate frames the app shows (servers, connectors): pure polars, no Textual."""

from __future__ import annotations

import polars as pl

from mailhops.index.schema import FRONTEND, HUB, MAILBOX_DELIVERY, MAILBOX_SUBMISSION

_SERVICE_ORDER = {FRONTEND: 0, HUB: 1, MAILBOX_DELIVERY: 2, MAILBOX_SUBMISSION: 3}


def server_summary(
    sessions: pl.DataFrame, files: pl.DataFrame, problems: pl.DataFrame
) -> pl.DataFrame:
    """One row a server: services seen, session count, time span and problem count."""
    if sessions.is_empty():
        base = pl.DataFrame(
            schema={"server": pl.String, "services": pl.String, "sessions": pl.UInt32}
        )
    else:
        base = (
            sessions.group_by("server")
            .agg(
                pl.col("service").unique().sort().alias("service_list"),
                pl.len().cast(pl.UInt32).alias("sessions"),
                pl.col("start").min().alias("first"),
                pl.col("end").max().alias("last"),
            )
            .with_columns(pl.col("service_list").list.join(",").alias("services"))
            .drop("service_list")
        )
    return (
        base.join(_problems_per_server(files, problems), on="server", how="left")
        .with_columns(pl.col("problems").fill_null(0))
        .sort("server")
    )


def _problems_per_server(files: pl.DataFrame, problems: pl.DataFrame) -> pl.DataFrame:
    schema = {"server": pl.String, "problems": pl.UInt32}
    if problems.is_empty() or files.is_empty() or "path" not in files.columns:
        return pl.DataFrame(schema=schema)
    return (
        problems.join(files.select("path", "server"), on="path", how="inner")
        .group_by("server")
        .agg(pl.len().cast(pl.UInt32).alias("problems"))
    )


def connector_summary(sessions: pl.DataFrame, server: str | None) -> pl.DataFrame:
    """One row a connector (receive and send) of ``server`` (all servers when None)."""
    frame = sessions if server is None else sessions.filter(pl.col("server") == server)
    if frame.is_empty():
        return pl.DataFrame(
            schema={
                "connector": pl.String,
                "direction": pl.String,
                "service": pl.String,
                "sessions": pl.UInt32,
                "failed": pl.UInt32,
            }
        )
    return (
        frame.group_by("connector", "direction", "service")
        .agg(
            pl.len().cast(pl.UInt32).alias("sessions"),
            pl.col("outcome")
            .is_in(["rejected", "deferred", "proxy_error", "tls_failed", "timeout"])
            .sum()
            .cast(pl.UInt32)
            .alias("failed"),
            pl.col("start").min().alias("first"),
            pl.col("end").max().alias("last"),
        )
        .with_columns(pl.col("service").replace_strict(_SERVICE_ORDER, default=9).alias("_order"))
        .sort("_order", "direction", "connector")
        .drop("_order")
    )
