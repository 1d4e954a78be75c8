"""Shared Streamlit helpers: sign-in and page guard, navigation, formatting."""
