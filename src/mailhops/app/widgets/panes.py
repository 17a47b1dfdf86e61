"""Servers and connectors panes: small aggregates, so a DataTable each (never for sessions)."""

from __future__ import annotations

from typing import Any

import polars as pl
from rich.text import Text
from textual.widgets import DataTable

from mailhops.app.render import format_time, service_label, to_text

ALL = "\x00all"  # row key of the "all" row (cannot collide with a cleaned server name)
SERVER_TITLES = ("Server", "Sessions", "Services", "From (UTC)", "To (UTC)", "Problems")
CONNECTOR_TITLES = ("Connector", "Stream", "Sessions", "Failed", "First (UTC)", "Last (UTC)")


def fill(table: DataTable[Text], titles: tuple[str, ...], rows: list[list[Text]]) -> None:
    """Replace every row of ``table``, columns sized to their content at once.

    DataTable sizes auto-width columns later, when it next goes idle; sizing them here makes
    the pane look the same whenever it is drawn (the summaries arrive from a worker).
    """
    widths = [len(title) for title in titles]
    for row in rows:
        widths = [max(w, cell.cell_len) for w, cell in zip(widths, row, strict=True)]
    table.clear(columns=True)
    for title, width in zip(titles, widths, strict=True):
        table.add_column(Text(title, style="bold"), key=title, width=width)
    for index, row in enumerate(rows):
        table.add_row(*row, key=ALL if index == 0 else None)


class ServersPane(DataTable[Text]):
    """One row a server; the first row means every server."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.servers: list[str | None] = []

    def on_mount(self) -> None:
        for title in SERVER_TITLES:
            self.add_column(Text(title, style="bold"), key=title)

    def show(self, summary: pl.DataFrame) -> None:
        """Fill from :func:`mailhops.app.views.server_summary`."""
        self.servers = [None]
        total = int(summary["sessions"].sum()) if summary.height else 0
        rows = [[Text("All servers", style="bold"), _count(total), *[Text()] * 4]]
        for row in summary.iter_rows(named=True):
            self.servers.append(row["server"])
            rows.append(
                [
                    to_text(row["server"] or "(unknown)", "bold"),
                    _count(row["sessions"]),
                    to_text(row.get("services")),
                    to_text(format_time(row.get("first"))),
                    to_text(format_time(row.get("last"))),
                    _count(row.get("problems") or 0, "red" if row.get("problems") else "dim"),
                ]
            )
        fill(self, SERVER_TITLES, rows)

    def selected_server(self) -> str | None:
        """The server under the cursor (None: all servers)."""
        if not self.servers or self.cursor_row >= len(self.servers):
            return None
        return self.servers[self.cursor_row]


class ConnectorsPane(DataTable[Text]):
    """Receive and send connectors of the selected server, with counts and first/last seen."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row")
        self.connectors: list[str | None] = []

    def on_mount(self) -> None:
        for title in CONNECTOR_TITLES:
            self.add_column(Text(title, style="bold"), key=title)

    def show(self, summary: pl.DataFrame) -> None:
        """Fill from :func:`mailhops.app.views.connector_summary`."""
        self.connectors = [None]
        total = int(summary["sessions"].sum()) if summary.height else 0
        rows = [[Text("All connectors", style="bold"), Text(), _count(total), *[Text()] * 3]]
        for row in summary.iter_rows(named=True):
            self.connectors.append(row["connector"])
            rows.append(_connector_cells(row))
        fill(self, CONNECTOR_TITLES, rows)

    def selected_connector(self) -> str | None:
        """The connector under the cursor (None: all connectors)."""
        if not self.connectors or self.cursor_row >= len(self.connectors):
            return None
        return self.connectors[self.cursor_row]


def _connector_cells(row: dict[str, Any]) -> list[Text]:
    failed = row.get("failed") or 0
    return [
        to_text(row["connector"] or "(none)"),
        to_text(service_label(row.get("service"), row.get("direction"))),
        _count(row["sessions"]),
        _count(failed, "red" if failed else "dim"),
        to_text(format_time(row.get("first"))),
        to_text(format_time(row.get("last"))),
    ]


def _count(value: int, style: str = "") -> Text:
    return Text(f"{value:,}", style=style, justify="right")
