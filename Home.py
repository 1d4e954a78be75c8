"""Recoup's entrypoint: registers every page, hidden, and runs the one asked for. Each page
starts with the role guard, which signs the user in and draws the menu their role allows."""

import streamlit as st

from ui.nav import PAGES

st.set_page_config(page_title="Recoup", page_icon=":material/account_balance:", layout="wide")
page = st.navigation(
    [st.Page(p.path, title=p.title, icon=p.icon, url_path=p.key, default=p.default) for p in PAGES],
    position="hidden",
)
page.run()
