"""Download buttons that offer the table on screen as CSV and as XLSX."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.export import csv_bytes, xlsx_bytes

CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def download_buttons(table: pd.DataFrame, *, name: str, key: str) -> None:
    """Two buttons side by side, "Download CSV" and "Download XLSX", saving <name>.csv and <name>.xlsx."""
    # The files are built only when a button is clicked (a callable as data), not on every rerun,
    # and a download changes nothing on the page, so it does not rerun it.
    with st.container(horizontal=True):
        st.download_button(
            "Download CSV",
            lambda: csv_bytes(table),
            file_name=f"{name}.csv",
            mime=CSV_MIME,
            key=f"{key}_csv",
            on_click="ignore",
        )
        st.download_button(
            "Download XLSX",
            lambda: xlsx_bytes(table),
            file_name=f"{name}.xlsx",
            mime=XLSX_MIME,
            key=f"{key}_xlsx",
            on_click="ignore",
        )
