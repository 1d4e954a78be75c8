"""Recoup's core: domain rules, persistence and services. Never imports streamlit."""
