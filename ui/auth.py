"""Sign-in and the page guard. streamlit-authenticator (0.4.2, unmaintained) is used only here:
it keeps the signed cookie that re-opens a session; Recoup's own service checks the password
and the lockout, so the rules live in core and are tested without Streamlit."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import jwt
import streamlit as st
import streamlit_authenticator as stauth
from sqlalchemy.exc import OperationalError
from streamlit.delta_generator import DeltaGenerator
from streamlit.errors import StreamlitPageNotFoundError
from streamlit_authenticator.utilities import LoginError

from core import db
from core.config import get_settings
from core.errors import PermissionDenied, RecoupError
from core.security import MAX_PASSWORD_BYTES
from core.services import audit, signin
from core.services.users import UserView
from ui import nav

_SIGN_OUT = "_recoup_sign_out"
_SIGNED_IN_AT = "_recoup_signed_in_at"
log = logging.getLogger(__name__)


def _authenticator() -> stauth.Authenticate:
    """Built per run from the users table: a shared dict would be mutated across sessions."""
    settings = get_settings()
    with db.transaction() as session:
        directory = signin.credentials(session)
    credentials = {
        "usernames": {c.username: {"name": c.name, "email": c.email, "roles": [c.role.value]} for c in directory}
    }
    return stauth.Authenticate(
        credentials,
        cookie_name=settings.cookie_name,
        cookie_key=settings.cookie_key,
        cookie_expiry_days=settings.cookie_expiry_days,
        auto_hash=False,
    )


def _restore(authenticator: stauth.Authenticate, cookie_slot: DeltaGenerator) -> UserView | None:
    """The user this browser session belongs to, from session state or the signed cookie,
    checked against the database on every run: deactivation or a password reset ends it."""
    in_session = bool(st.session_state.get("authentication_status"))
    username = st.session_state.get("username") if in_session else None
    signed_in_at: datetime | None = st.session_state.get(_SIGNED_IN_AT)
    if not username and (cookie := _read_cookie(authenticator, cookie_slot)):
        username, signed_in_at = cookie
    if not username:
        return None
    with db.transaction() as session:
        user = signin.current_user(session, username, signed_in_at=signed_in_at)
    if user is None:
        with cookie_slot:
            if in_session:
                authenticator.logout(location="unrendered")
            else:
                authenticator.cookie_controller.delete_cookie()
        if in_session:
            st.warning("Your session has ended: your account was deactivated or its password changed.")
        return None
    if not in_session:  # re-opened from the cookie: let the widget know, as after a sign-in
        try:
            authenticator.authentication_controller.login(token={"username": user.username})
        except LoginError:
            return None
    st.session_state[_SIGNED_IN_AT] = signed_in_at
    return user


def _read_cookie(authenticator: stauth.Authenticate, cookie_slot: DeltaGenerator) -> tuple[str, datetime] | None:
    """Username and issue time from a well-formed, unexpired cookie; a bad cookie is deleted."""
    try:
        token = authenticator.cookie_controller.get_cookie()
        if not token:
            return None
        issued_at = float(token["exp_date"]) - get_settings().cookie_expiry_days * 86400
        return str(token["username"]), datetime.fromtimestamp(issued_at, UTC)
    except (jwt.InvalidTokenError, KeyError, TypeError, ValueError):  # forged or from another version
        with cookie_slot:
            authenticator.cookie_controller.delete_cookie()
        return None


def _sign_in_form(
    authenticator: stauth.Authenticate, placeholder: DeltaGenerator, cookie_slot: DeltaGenerator
) -> UserView:
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
    st.session_state[_SIGNED_IN_AT] = datetime.now(UTC)
    with cookie_slot:
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
            if not page.in_menu:
                continue
            try:
                st.page_link(page.path, label=page.title, icon=page.icon)
            except StreamlitPageNotFoundError:  # a page script run on its own, not through Home.py
                break
        st.button("Sign out", key="sign_out", on_click=_request_sign_out, width="stretch")


def require_page(page_key: str) -> UserView:
    """First line of every page: sign in if needed, draw the menu, refuse other roles' pages."""
    try:
        return _require_page(page_key)
    except OperationalError:
        log.exception("database unreachable")
        st.error("Recoup cannot reach its database right now. Try again in a minute; if it persists, tell your admin.")
        st.stop()
        raise  # unreachable: st.stop() raises


def _require_page(page_key: str) -> UserView:
    authenticator = _authenticator()
    # Two slots drawn on every run, signed in or not, so the page below keeps its place: one
    # for the component that writes or deletes the cookie, one for the sign-in form. Without
    # them the run after sign-in briefly shows stale duplicates of the page's elements.
    cookie_slot, form_slot = st.empty(), st.empty()
    if st.session_state.pop(_SIGN_OUT, False) and st.session_state.get("authentication_status"):
        with cookie_slot:
            authenticator.logout(location="unrendered")
        st.info("You are signed out.")
    try:
        user = _restore(authenticator, cookie_slot) or _sign_in_form(authenticator, form_slot, cookie_slot)
    except RecoupError as error:
        st.error(str(error))
        st.stop()
    _menu(user)
    page = nav.BY_KEY[page_key]
    if user.role not in page.roles:
        message = f"Your role ({user.role.value}) cannot open {page.title}."
        try:
            with db.transaction():  # the refusal is audited like any refused action
                audit.deny(user.as_actor(), message, f"page.{page.key}", "page", page.key)
        except PermissionDenied:
            pass
        st.error(message)
        st.stop()
    return user
