"""Download buttons that offer the table on screen as CSV and as XLSX."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pandas as pd
import streamlit as st

from core.export import csv_bytes, xlsx_bytes

# Label, file suffix, builder and mime type of each download, in the order shown.
FORMATS = (
    ("Download CSV", "csv", csv_bytes, "text/csv"),
    ("Download XLSX", "xlsx", xlsx_bytes, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
)


def download_buttons(table: pd.DataFrame | Callable[[], pd.DataFrame], *, name: str, key: str) -> None:
    """Two buttons side by side, "Download CSV" and "Download XLSX", saving <name>.csv and <name>.xlsx.
    table: the table, or what reads it when a button is clicked (a table too large to keep)."""
    # The files are built only when a button is clicked (a callable as data), not on every rerun,
    # and a download changes nothing on the page, so it does not rerun it.
    read = table if callable(table) else lambda: table
    with st.container(horizontal=True):
        for label, suffix, build, mime in FORMATS:
            st.download_button(
                label,
                partial(_built, build, read),
                file_name=f"{name}.{suffix}",
                mime=mime,
                key=f"{key}_{suffix}",
                on_click="ignore",
            )


def _built(build: Callable[[pd.DataFrame], bytes], read: Callable[[], pd.DataFrame]) -> bytes:
    return build(read())
