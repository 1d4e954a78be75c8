"""Sign-in and the page guard. streamlit-authenticator (0.4.2, unmaintained) is used only here:
it keeps the signed cookie that re-opens a session; Recoup's own service checks the password
and the lockout, so the rules live in core and are tested without Streamlit."""

from __future__ import annotations

import time

import streamlit as st
import streamlit_authenticator as stauth
from streamlit.delta_generator import DeltaGenerator
from streamlit.errors import StreamlitPageNotFoundError
from streamlit_authenticator.utilities import LoginError

from core import db
from core.config import get_settings
from core.errors import RecoupError
from core.security import MAX_PASSWORD_BYTES
from core.services import signin, users
from core.services.users import UserView
from ui import nav

_SIGN_OUT = "_recoup_sign_out"


def _authenticator() -> stauth.Authenticate:
    """Built per run from the users table: a shared dict would be mutated across sessions."""
    settings = get_settings()
    with db.transaction() as session:
        directory = signin.credentials(session)
    credentials = {
        "usernames": {
            c.username: {"name": c.name, "email": c.email, "password": c.password_hash, "roles": [c.role.value]}
            for c in directory
        }
    }
    return stauth.Authenticate(
        credentials,
        cookie_name=settings.cookie_name,
        cookie_key=settings.cookie_key,
        cookie_expiry_days=settings.cookie_expiry_days,
        auto_hash=False,
    )


def _restore(authenticator: stauth.Authenticate) -> UserView | None:
    """The user this browser session belongs to, from session state or the signed cookie."""
    username = st.session_state.get("username") if st.session_state.get("authentication_status") else None
    if not username:
        token = authenticator.cookie_controller.get_cookie()
        if token:
            try:
                authenticator.authentication_controller.login(token=token)
                username = token["username"]
            except LoginError:
                authenticator.cookie_controller.delete_cookie()
    if not username:
        return None
    with db.transaction() as session:
        user = users.find_active_user(session, username)
    if user is None:  # deactivated (or renamed) since signing in
        authenticator.logout(location="unrendered")
        st.warning("Your account is no longer active. Ask an admin if this is unexpected.")
    return user


def _sign_in_form(authenticator: stauth.Authenticate, placeholder: DeltaGenerator) -> UserView:
    with placeholder.container():
        st.title("Recoup")
        st.caption("The collections desk. Sign in to continue.")
        with st.form("sign_in", clear_on_submit=True):
            username = st.text_input("Username", key="sign_in_username", autocomplete="username")
            password = st.text_input("Password", type="password", key="sign_in_password")
            submitted = st.form_submit_button("Sign in", key="sign_in_submit", type="primary")
        if not submitted:
            st.stop()
        if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
            st.error(f"Passwords are at most {MAX_PASSWORD_BYTES} bytes; the one you typed is longer.")
            st.stop()
        with db.transaction() as session:
            outcome = signin.sign_in(session, username, password)
        if outcome.user is None:
            time.sleep(get_settings().login_sleep_seconds)  # slows guessing; zero in tests
            st.error(outcome.refusal)
            st.stop()
    authenticator.authentication_controller.login(token={"username": outcome.user.username})
    authenticator.cookie_controller.set_cookie()  # no st.rerun() after this, or the cookie is lost
    placeholder.empty()
    return outcome.user


def _request_sign_out() -> None:
    st.session_state[_SIGN_OUT] = True


def _menu(user: UserView) -> None:
    with st.sidebar:
        st.markdown(f"**{user.name}**")
        st.caption(user.role.value.title())
        for page in nav.pages_for(user.role):
            try:
                st.page_link(page.path, label=page.title, icon=page.icon)
            except StreamlitPageNotFoundError:  # a page script run on its own, not through Home.py
                break
        st.button("Sign out", key="sign_out", on_click=_request_sign_out, width="stretch")


def require_page(page_key: str) -> UserView:
    """First line of every page: sign in if needed, draw the menu, refuse other roles' pages."""
    authenticator = _authenticator()
    if st.session_state.pop(_SIGN_OUT, False) and st.session_state.get("authentication_status"):
        authenticator.logout(location="unrendered")
        st.info("You are signed out.")
    # The form's slot is drawn on every run, signed in or not, so the page below it keeps its
    # place: otherwise the run after sign-in briefly shows stale copies of the page's elements.
    slot = st.empty()
    try:
        user = _restore(authenticator) or _sign_in_form(authenticator, slot)
    except RecoupError as error:
        st.error(str(error))
        st.stop()
    _menu(user)
    page = nav.BY_KEY[page_key]
    if user.role not in page.roles:
        st.error(f"Your role ({user.role.value}) cannot open {page.title}.")
        st.stop()
    return user
