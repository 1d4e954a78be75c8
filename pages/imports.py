"""Import: upload a customers, invoices or payments file, map its columns, check it, then write it."""

import shutil
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from core import db
from core.config import get_settings
from core.errors import RecoupError
from core.imports.fields import FIELDS, Mapping, guess_columns
from core.imports.parsing import AMOUNT_STYLES, DATE_FORMATS, AmbiguousDates
from core.imports.reading import FileFacts
from core.services import mappings
from core.services.imports import ImportResult, Progress, describe_file, import_file, sweep_import_dir
from ui.auth import require_page
from ui.export import download_buttons

user = require_page("import")
actor = user.as_actor()
NONE, DETECT, GUESS = "—", "Detect", "Guess from the headers"

st.title("Import")
if flash := st.session_state.pop("import_flash", None):
    level, message = flash
    getattr(st, level)(message)


def forget(path: object) -> None:
    if path:
        Path(str(path)).unlink(missing_ok=True)


def discard_check() -> None:
    """Drop the last check and its list of refused rows, once the file or the mapping changes."""
    if checked := st.session_state.pop("import_checked", None):
        forget(checked["result"].problems_file)


def progress_bar(label: str) -> Progress:
    bar = st.progress(0.0, text=label)

    def update(done: int, expected: int | None) -> None:
        if expected:
            bar.progress(min(done / expected, 1.0), text=f"{label} {done:,} of about {expected:,} rows")
        else:
            bar.progress(0.0, text=f"{label} {done:,} rows so far")

    return update


def show(result: ImportResult) -> None:
    cols = st.columns(5)
    for col, (label, count) in zip(
        cols,
        [
            ("Rows", result.rows),
            ("New", result.new),
            ("Updated", result.updated),
            ("Unchanged", result.unchanged),
            ("Refused", result.rejected),
        ],
        strict=True,
    ):
        col.metric(label, f"{count:,}")
    facts = [f"{key.replace('_', ' ').capitalize()}: {count:,}" for key, count in result.details.items()]
    if result.date_format:
        facts.append(f"dates read as {result.date_format}")
    st.caption(" · ".join(facts))
    if result.problem_count:
        st.subheader("Refused rows")
        shown = "" if result.problem_count == len(result.problems) else f"; the first {len(result.problems):,} shown"
        st.caption(f"{result.problem_count:,} problems in {result.rejected:,} rows{shown}.")
        st.dataframe(pd.DataFrame(result.problems), hide_index=True)
        # The whole list for a spreadsheet, read from the file the check wrote, not just the preview.
        every = pd.read_csv(result.problems_file, dtype=str, keep_default_na=False)
        download_buttons(every, name=f"refused-{Path(result.file_name).stem}", key="import_problems_download")
    if result.warning_count:
        st.subheader("Warnings")
        shown = "" if result.warning_count == len(result.warnings) else f"; the first {len(result.warnings):,} shown"
        st.caption(f"{result.warning_count:,} warnings: these rows are imported as they are{shown}.")
        warnings = pd.DataFrame(result.warnings)
        st.dataframe(warnings, hide_index=True)
        download_buttons(warnings, name=f"warnings-{Path(result.file_name).stem}", key="import_warnings_download")


kind = st.radio("What does the file hold?", list(FIELDS), key="import_kind", horizontal=True)
uploaded = st.file_uploader("File", type=["csv", "xlsx"], key="import_file")

# Only the saved file's path, name and size live in the session, never its contents: the
# service streams the file from disk in chunks. The rest of the page needs only this entry.
upload: dict[str, Any] | None = st.session_state.get("import_upload")
if uploaded is not None and (upload is None or upload["file_id"] != uploaded.file_id):
    discard_check()
    forget(upload and upload["path"])
    sweep_import_dir()  # uploads of sessions that were abandoned a day ago or more
    directory = get_settings().import_dir
    directory.mkdir(parents=True, exist_ok=True)
    saved = directory / f"upload-{uuid.uuid4().hex}{Path(uploaded.name).suffix.lower()}"
    uploaded.seek(0)
    with saved.open("wb") as handle:
        shutil.copyfileobj(uploaded, handle, 1 << 20)
    upload = {"path": str(saved), "name": uploaded.name, "size": uploaded.size, "file_id": uploaded.file_id}
    st.session_state["import_upload"] = upload
elif uploaded is None and upload is not None:  # the user removed the file
    discard_check()
    forget(upload["path"])
    st.session_state.pop("import_upload")
    upload = None

if upload is None:
    st.info("Upload a CSV or XLSX file. Its first row must hold the column headers.")
    st.stop()
if upload["path"] is None:
    st.info(f"{upload['name']} is done with. Upload another file to import more.")
    st.stop()
path, name = Path(upload["path"]), upload["name"]

# Describing a file reads all of it (to tell UTF-8 from cp1252): once per file and sheet, not per rerun.
described = st.session_state.get("import_described", {})
if described.get("path") != str(path):  # a new upload: forget the last file's description
    described = st.session_state["import_described"] = {"path": str(path), "sheets": {}}


def describe(sheet: str | None) -> tuple[FileFacts, list[str]]:
    if sheet not in described["sheets"]:
        described["sheets"][sheet] = describe_file(path, name=name, sheet=sheet)
    return described["sheets"][sheet]


try:
    facts, headers = describe(None)
    sheet = None
    if facts.kind == "xlsx" and len(facts.sheets) > 1:
        sheet = st.selectbox("Sheet", facts.sheets, key="import_sheet")
        facts, headers = describe(sheet)
except RecoupError as error:
    st.error(str(error))
    st.stop()
read_as = {"utf-8": "", "utf-8-sig": "", "cp1252": " · not UTF-8, read as Windows cp1252"}.get(facts.encoding or "", "")
st.caption(f"{name} · {upload['size'] / 1024:,.0f} KB{read_as} · columns: {', '.join(headers)}")

st.subheader("Columns")
with db.transaction() as session:
    profiles = {profile.name: profile for profile in mappings.list_profiles(session, kind)}
if pending := st.session_state.pop("import_profile_pending", None):  # a profile just saved
    st.session_state["import_profile"] = pending
profile_name = st.selectbox("Profile", [GUESS, *profiles], key="import_profile")
profile = profiles.get(profile_name)
if profile and profile.about:
    st.caption(profile.about)
base = profile.mapping if profile else Mapping(kind, columns=guess_columns(kind, headers))
fields = FIELDS[kind]

# Keyed widgets keep their value when their default changes, so a new file, kind or profile
# presets them through session state instead.
context = (kind, str(path), sheet, profile_name)
if st.session_state.get("import_preset_for") != context or any(f"map_{f.key}" not in st.session_state for f in fields):
    for spec in fields:
        header = base.columns.get(spec.key)
        st.session_state[f"map_{spec.key}"] = header if header in headers else NONE
    st.session_state["import_date_format"] = base.date_format or DETECT
    st.session_state["import_amount_style"] = base.amount_style
    st.session_state["import_currency"] = base.currency or ""
    st.session_state["import_country"] = base.country or ""
    st.session_state["import_source"] = base.source
    st.session_state["import_preset_for"] = context
if lacking := sorted({h for h in base.columns.values() if h not in headers}):
    st.warning(f"This file has no column {', '.join(repr(h) for h in lacking)}, which the profile reads.")

columns: dict[str, str] = {}
grid = st.columns(3)
for i, spec in enumerate(fields):
    chosen = grid[i % 3].selectbox(
        f"{spec.label}{' *' if spec.required else ''}",
        [NONE, *headers],
        key=f"map_{spec.key}",
        help=f"Or choose one {spec.whole_file} for the whole file below." if spec.whole_file else None,
    )
    if chosen != NONE:
        columns[spec.key] = chosen
st.caption("* required")

options = st.columns(5)
date_format = options[0].selectbox("Date format", [DETECT, *DATE_FORMATS], key="import_date_format")
amount_style = options[1].selectbox("Amounts written like", list(AMOUNT_STYLES), key="import_amount_style")
currency = options[2].text_input("Currency for the whole file", key="import_currency", placeholder="e.g. PHP")
country = options[3].text_input("Country for new customers", key="import_country", placeholder="e.g. PH")
source = options[4].text_input("Source", key="import_source", help="Names where the rows come from.")
mapping = Mapping(
    kind,
    columns=columns,
    date_format=None if date_format == DETECT else date_format,
    amount_style=amount_style,
    currency=currency.strip().upper() or None,
    country=country.strip().upper() or None,
    source=source.strip() or "import",
    name=profile.name if profile else None,
)

with st.container(horizontal=True, vertical_alignment="bottom"):
    profile_new_name = st.text_input("Save these columns as a profile", key="import_profile_name")
    if st.button("Save profile", key="import_profile_save"):
        try:
            with db.transaction() as session:
                mappings.save_profile(session, actor, profile_new_name, mapping)
        except RecoupError as error:
            st.error(str(error))
        else:
            st.session_state["import_profile_pending"] = profile_new_name.strip()
            st.session_state["import_flash"] = ("success", f"Saved the profile {profile_new_name.strip()!r}.")
            st.rerun()

checked = st.session_state.get("import_checked")
if checked and (checked["path"], checked["sheet"], checked["mapping"]) != (str(path), sheet, mapping):
    discard_check()  # the file or the mapping changed since: check again
    checked = None

if st.button("Check file", key="import_check", type="primary"):
    discard_check()
    try:
        with db.transaction() as session:
            result = import_file(
                session,
                actor,
                path,
                mapping=mapping,
                file_name=name,
                sheet=sheet,
                dry_run=True,
                progress=progress_bar("Checking…"),
            )
    except AmbiguousDates as error:
        st.warning(f"{error} Pick {' or '.join(error.formats)} under Date format above, then check again.")
        st.stop()
    except RecoupError as error:
        st.error(str(error))
        st.stop()
    checked = {"result": result, "mapping": mapping, "path": str(path), "sheet": sheet}
    st.session_state["import_checked"] = checked

if not checked:
    st.stop()
result = checked["result"]
show(result)

write = valid_only = False
with st.container(horizontal=True):
    if not result.rejected:
        write = st.button(f"Import {result.rows:,} rows", key="import_write", type="primary")
    else:
        valid_only = write = st.button(
            f"Import the {result.valid:,} valid rows",
            key="import_valid_only",
            type="primary",
            disabled=not result.valid,
        )
        if st.button("Import nothing", key="import_nothing"):
            discard_check()
            forget(path)
            upload["path"] = None
            st.session_state["import_flash"] = ("info", f"Nothing was imported from {name}.")
            st.rerun()
if not write:
    st.stop()

try:
    with db.transaction() as session:
        done = import_file(
            session,
            actor,
            path,
            # The date format the check found, so the write cannot read the dates differently.
            mapping=checked["mapping"].with_options(date_format=result.date_format),
            file_name=name,
            sheet=sheet,
            valid_only=valid_only,
            progress=progress_bar("Importing…"),
        )
except RecoupError as error:
    st.error(str(error))
    st.stop()
if not done.written:  # the book changed since the check, and rows it passed are refused now
    discard_check()
    st.session_state["import_checked"] = {**checked, "result": done}
    st.session_state["import_flash"] = ("warning", "Nothing was imported: the book changed since the check. See below.")
    st.rerun()
discard_check()
forget(done.problems_file)
forget(path)
upload["path"] = None
summary = f"Imported {name}: {done.new:,} new, {done.updated:,} updated, {done.unchanged:,} unchanged"
if done.rejected:
    summary += f"; {done.rejected:,} refused rows left out"
extra = [f"{key.replace('_', ' ')}: {count:,}" for key, count in done.details.items() if count]
st.session_state["import_flash"] = ("success", summary + (f" ({', '.join(extra)})." if extra else "."))
st.rerun()
