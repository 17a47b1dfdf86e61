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


_FAILED = ["rejected", "deferred", "proxy_error", "tls_failed", "timeout"]
_CONNECTOR_SCHEMA = {
    "connector": pl.String,
    "direction": pl.String,
    "service": pl.String,
    "sessions": pl.UInt32,
    "failed": pl.UInt32,
}


def connector_summary(sessions: pl.DataFrame, server: str | None) -> pl.DataFrame:
    """One row a connector (receive and send) of ``server`` (all servers when None)."""
    frame = sessions if server is None else sessions.filter(pl.col("server") == server)
    return connectors_of(connector_counts(frame), None)


def connector_counts(sessions: pl.DataFrame) -> pl.DataFrame:
    """The connector figures of every server: one pass over the sessions, done once.

    Picking a server then regroups this small frame (:func:`connectors_of`) instead of
    grouping every session again on the UI thread.
    """
    if sessions.is_empty():
        return pl.DataFrame(schema={"server": pl.String, **_CONNECTOR_SCHEMA})
    return sessions.group_by("server", "connector", "direction", "service").agg(
        pl.len().cast(pl.UInt32).alias("sessions"),
        pl.col("outcome").is_in(_FAILED).sum().cast(pl.UInt32).alias("failed"),
        pl.col("start").min().alias("first"),
        pl.col("end").max().alias("last"),
    )


def connectors_of(counts: pl.DataFrame, server: str | None) -> pl.DataFrame:
    """:func:`connector_summary` of ``server`` from :func:`connector_counts`."""
    frame = counts if server is None else counts.filter(pl.col("server") == server)
    if frame.is_empty():
        return pl.DataFrame(schema=_CONNECTOR_SCHEMA)
    return (
        frame.group_by("connector", "direction", "service")
        .agg(
            pl.col("sessions").sum().cast(pl.UInt32),
            pl.col("failed").sum().cast(pl.UInt32),
            pl.col("first").min(),
            pl.col("last").max(),
        )
        .with_columns(pl.col("service").replace_strict(_SERVICE_ORDER, default=9).alias("_order"))
        .sort("_order", "direction", "connector")
        .drop("_order")
    )
