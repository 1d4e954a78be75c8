"""Recoup's command line: migrate, seed the demo book, create users. Errors are one clear line."""

from __future__ import annotations

import logging
import os
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import psycopg
import typer
from sqlalchemy.exc import OperationalError, ProgrammingError

from core import db, migrations
from core.config import get_settings
from core.errors import ConfigError, Conflict, RecoupError
from core.roles import Actor, Role

if TYPE_CHECKING:
    from collections.abc import Callable
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from core.gateway import PaymentGateway
    from core.services.imports import ImportResult

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Recoup, the collections desk.")
log = logging.getLogger("recoup")


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


@app.command()
def migrate() -> None:
    """Upgrade the database schema to the newest version."""
    from core.services.summaries import missing_summaries, refresh_accounts

    migrations.upgrade()
    typer.echo("Database is at the newest schema.")
    with db.transaction() as session:
        if missing := missing_summaries(session):
            refresh_accounts(session, None)
            typer.echo(f"Built the work-queue summaries of {missing:,} accounts.")


@app.command("refresh-summaries")
def refresh_summaries() -> None:
    """Rebuild every account's work-queue summary from the ledger (after loading data by hand)."""
    from core.services.summaries import refresh_accounts

    with db.transaction() as session:
        refresh_accounts(session, None)
    typer.echo("Work-queue summaries rebuilt.")


def _day(as_of: str | None) -> date:
    """--as-of as a date (default today), or a one-line error."""
    try:
        return date.fromisoformat(as_of) if as_of else date.today()
    except ValueError:
        raise _fail(f"--as-of must be a date such as 2026-11-24, not {as_of!r}.") from None


@app.command("settle-promises")
def settle_promises(
    as_of: Annotated[str | None, typer.Option(help="The day to settle as of (YYYY-MM-DD); default today.")] = None,
) -> None:
    """Mark promises whose date has passed unpaid as broken, with a timeline entry each (run daily)."""
    from core.services.summaries import settle_promises as settle

    day = _day(as_of)
    with db.transaction() as session:
        broken = settle(session, as_of=day)
    typer.echo(f"{broken} promise{'s' if broken != 1 else ''} marked broken.")


@app.command("settle-plans")
def settle_plans(
    as_of: Annotated[str | None, typer.Option(help="The day to settle as of (YYYY-MM-DD); default today.")] = None,
) -> None:
    """Bring payment plans up to date with the calendar: late, broken or back on schedule (run daily)."""
    from core.services.summaries import settle_plans as settle

    day = _day(as_of)
    with db.transaction() as session:
        changed = settle(session, as_of=day)
    typer.echo(
        ", ".join(f"{n} plan{'s' if n != 1 else ''} now {status}" for status, n in sorted(changed.items()))
        or "No plan changed status."
    )


@app.command("build-aging")
def build_aging(
    as_of: Annotated[str | None, typer.Option(help="The day to build it for (YYYY-MM-DD); default today.")] = None,
) -> None:
    """Rebuild the aging snapshot the Reports page reads, for the day and the last month end before
    it (the reminder batch does it daily)."""
    from core.services import aging_snapshot

    day = _day(as_of)
    with db.transaction() as session:
        built = {each: aging_snapshot.rows(session, each) for each in aging_snapshot.rebuild(session, day)}
    for each, rows in built.items():
        typer.echo(f"Aging as of {each.isoformat()} built: {rows:,} customer balances.")


@app.command("remind")
def remind(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan and report only: nothing is written or sent.")
    ] = False,
    now: Annotated[
        str | None, typer.Option(help="Act as if it were this moment (ISO, e.g. 2026-11-24T09:00+08:00).")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Send at most this many in this run.")] = None,
    workers: Annotated[int, typer.Option(min=1, max=32, help="Sends in parallel.")] = 1,
    quiet: Annotated[bool, typer.Option("--quiet", help="The summary only, no line per send.")] = False,
) -> None:
    """The reminder batch, for cron: plan due dunning steps, check each, send (see README: Reminders)."""
    from datetime import UTC, datetime

    from core.services import reminders

    try:
        moment = datetime.fromisoformat(now) if now else datetime.now(UTC)
    except ValueError:
        raise _fail(f"--now must be an ISO time such as 2026-11-24T09:00+08:00, not {now!r}.") from None
    if moment.tzinfo is None:
        raise _fail("--now needs a UTC offset or Z, e.g. 2026-11-24T09:00+08:00.")
    log_file = get_settings().data_dir / "logs" / "remind.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    run_log = logging.getLogger("recoup.remind")  # to the file only: the terminal gets the summary
    run_log.addHandler(handler)
    run_log.setLevel(logging.INFO)
    run_log.propagate = False
    say = (lambda line: None) if quiet else typer.echo

    def progress(line: str) -> None:
        run_log.info(line)
        say(line)

    if not dry_run:
        _reconcile_online_payments(run_log)
        _rebuild_aging(moment.astimezone().date(), progress)
    result = reminders.run(now=moment, dry_run=dry_run, limit=limit, workers=workers, progress=progress)
    planned = ", ".join(f"{n} {status}" for status, n in sorted(result.planned.items())) or "nothing new"
    typer.echo(f"{'would plan' if dry_run else 'planned'}: {planned}")
    if not dry_run:
        outcomes = ", ".join(f"{n} {what}" for what, n in sorted(result.outcomes.items())) or "nothing to send"
        typer.echo(f"this run: {outcomes}")
        for code, n in result.blocked.most_common():
            typer.echo(f"  blocked {n}× {code.replace('_', ' ')}")
        if result.letters_file:
            typer.echo(f"{len(result.letters)} letter(s) to print: {result.letters_file}")
        if result.uncertain_found:
            typer.echo(
                f"{result.uncertain_found} left 'sending' by an earlier run marked uncertain: see Needs attention"
            )
    run_log.info("remind %s: planned %s, outcomes %s", moment.isoformat(), dict(result.planned), dict(result.outcomes))
    if result.failed:
        raise typer.Exit(1)


def _rebuild_aging(day: date, progress: Callable[[str], None]) -> None:
    """The first run of a day rebuilds the aging snapshot for it and the last month end (1.6 s for
    both on the bench's million invoices); a later run builds the month end again if an import
    dropped it. If it cannot (a long transaction holds the table past its lock wait), the reminders
    still go out and the next run tries again; reports compute from the invoices meanwhile."""
    from core.services import aging_snapshot

    try:
        with db.transaction() as session:
            for built in aging_snapshot.rebuild(session, day, unless_current=True):
                progress(f"aging as of {built.isoformat()} rebuilt")
    except (OperationalError, Conflict) as error:  # a lock wait ran out, or (never seen) a deadlock
        log.warning("aging snapshot not rebuilt: %s", error)
        progress(f"aging as of {day.isoformat()} not rebuilt (the table was busy); the next run tries again")


def _reconcile_online_payments(run_log: logging.Logger) -> None:
    """Before planning, record what debtors paid online that Recoup has not heard of yet (so no one is
    reminded of what they paid), a checkout per transaction. A provider that is down is reported, and
    the batch goes on."""
    from core import gateway
    from core.services import online_payments

    checkout = gateway.from_settings()
    if checkout is None:
        return
    try:
        counts = online_payments.reconcile_open_sessions(Actor.system_process("remind"), checkout)
    except RecoupError as error:
        line = f"online payments: not reconciled ({error}); the batch goes on"
    else:
        found = [
            f"{n} {what}"
            for n, what in (
                (counts.recorded, "recorded"),
                (counts.already_recorded, "already recorded"),
                (counts.expired, "expired"),
                (counts.still_open, "still open"),
            )
            if n
        ]
        if counts.failed:
            found.append(f"{counts.failed} could not be checked ({counts.first_error}); the batch goes on")
        line = f"online payments: {', '.join(found) or 'no open checkout'}"
    run_log.info(line)
    typer.echo(line)


WEBHOOK_PATH = "/stripe/webhook"
MAX_WEBHOOK_BYTES = 1 << 20  # Stripe's events are a few kB


def webhook_app(checkout: PaymentGateway) -> WSGIApplication:
    """POST /stripe/webhook: 200 when the event was recorded, was a duplicate or is not ours to act on;
    400 for a bad signature or body; 503 when Stripe could not be asked (Stripe sends it again later).
    One transaction per request. The caller gets a short line, never a traceback."""

    def answer(environ: WSGIEnvironment) -> tuple[str, str]:
        from core.gateway import WebhookRefused
        from core.services import online_payments

        if environ.get("PATH_INFO") != WEBHOOK_PATH:
            return "404 Not Found", "not found"
        if environ.get("REQUEST_METHOD") != "POST":
            return "405 Method Not Allowed", "POST a Stripe event here"
        length = int(raw) if (raw := environ.get("CONTENT_LENGTH") or "0").isdigit() else 0
        if not 0 < length <= MAX_WEBHOOK_BYTES:
            return "400 Bad Request", "a Stripe event body is expected"
        payload = environ["wsgi.input"].read(length)
        try:
            with db.transaction() as session:
                outcome = online_payments.handle_webhook(
                    session, checkout, payload, environ.get("HTTP_STRIPE_SIGNATURE", "")
                )
        except WebhookRefused as error:
            return "400 Bad Request", str(error)
        except RecoupError as error:
            log.warning("webhook not handled: %s", error)
            return "503 Service Unavailable", str(error)
        except Exception:
            log.exception("webhook failed")
            return "500 Internal Server Error", "internal error; the event was not recorded"
        log.info("webhook: %s %s %s", outcome.completion.value, outcome.provider_session_id, outcome.detail)
        return "200 OK", f"{outcome.completion.value} {outcome.provider_session_id}".strip()

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        status, text = answer(environ)
        body = f"{text}\n".encode()
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
        return [body]

    return application


class _LoggedRequests(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.info("webhook %s: %s", self.address_string(), format % args)


def webhook_server(host: str, port: int, checkout: PaymentGateway) -> WSGIServer:
    """The webhook receiver, bound and ready for serve_forever() (port 0: any free port)."""
    return make_server(host, port, webhook_app(checkout), handler_class=_LoggedRequests)


@app.command("webhook")
def webhook(
    host: Annotated[str, typer.Option(help="Address to listen on (behind your HTTPS proxy).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8503,
) -> None:
    """Receive Stripe's webhooks on POST /stripe/webhook (see README: Online payments)."""
    from core import gateway

    checkout = gateway.from_settings()
    if checkout is None:
        raise _fail("online payments are not configured: set RECOUP_STRIPE_SECRET_KEY.")
    if not checkout.settings.webhook_secret:
        raise _fail("set RECOUP_STRIPE_WEBHOOK_SECRET (the endpoint's signing secret, whsec_…) to verify webhooks.")
    try:
        server = webhook_server(host, port, checkout)
    except OSError as error:
        raise _fail(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    typer.echo(f"Receiving Stripe webhooks on http://{host}:{server.server_port}{WEBHOOK_PATH} (Ctrl-C stops).")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


REPORTS = (
    "aging",
    "dso",
    "cei",
    "recovery",
    "collectors",
    "channels",
    "late-payers",
    "promises",
    "forecast",
    "disputes",
)


@app.command("report")
def report(
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(REPORTS)}.")],
    as_of: Annotated[str | None, typer.Option(help="Aging and forecast as of this day (YYYY-MM-DD).")] = None,
    start: Annotated[str | None, typer.Option(help="Period start; default 12 months before the as-of month.")] = None,
    end: Annotated[str | None, typer.Option(help="Period end; default the as-of day.")] = None,
    currency: Annotated[str | None, typer.Option(help="Only this currency, e.g. PHP.")] = None,
    group_by: Annotated[str, typer.Option(help="Aging by customer, collector, segment or country.")] = "customer",
    output: Annotated[str, typer.Option("--format", help="table, csv or xlsx.")] = "table",
    out: Annotated[Path | None, typer.Option(help="Write to this file (needed for xlsx).")] = None,
) -> None:
    """A report for scheduled e-mailing or spreadsheets (see README: Reports)."""
    from core import export
    from core.services import reports

    if name not in REPORTS:
        raise _fail(f"No report {name!r}: choose one of {', '.join(REPORTS)}.")
    if output not in ("table", "csv", "xlsx"):
        raise _fail(f"--format must be table, csv or xlsx, not {output!r}.")
    if output == "xlsx" and out is None:
        raise _fail("--format xlsx writes a file: give it with --out FILE.")
    day = _day(as_of)
    first, _ = reports.period_default(day)
    chosen = reports.ReportFilter(
        as_of=day,
        start=_day(start) if start else first,
        end=_day(end) if end else day,
        currency=currency.upper() if currency else None,
    )
    with db.transaction() as session:
        table = reports.run_report(session, Actor.system_process("report"), name, chosen, group_by=group_by)
    if output == "xlsx":
        assert out is not None
        out.write_bytes(export.xlsx_bytes(table, sheet=name))
    elif output == "csv":
        data = export.csv_bytes(table)
        if out is None:
            sys.stdout.buffer.write(data)
        else:
            out.write_bytes(data)
    else:
        text = table.to_string(index=False) if not table.empty else "Nothing to report for these choices."
        if out is None:
            typer.echo(text)
        else:
            out.write_text(text + "\n")
    if out is not None:
        typer.echo(f"{name}: {len(table)} rows written to {out}", err=True)


def demo_logins_file() -> Path:
    return get_settings().data_dir / "demo-logins.txt"


@app.command("seed-demo")
def seed_demo(
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same book.")] = 7,
    customers: Annotated[int, typer.Option(min=1, max=100_000, help="How many customers.")] = 400,
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Do nothing if users exist already.")] = False,
) -> None:
    """Fill an empty database with a realistic demo book and one user per role."""
    from core.demo import seed_demo as build
    from core.services.users import count_users

    if get_settings().production:
        raise _fail("seed-demo is refused in production (RECOUP_ENV=production).")
    with db.transaction() as session:
        existing = count_users(session)
    if existing:
        if if_empty:
            typer.echo("The database already has data; demo book not seeded.")
            return
        raise _fail("the database already has users; seed-demo only fills an empty database.")
    with typer.progressbar(length=customers, label="Seeding demo book") as bar, db.transaction() as session:
        result = build(session, seed=seed, customer_count=customers, progress=bar.update)
    lines = [f"{login.role.value:<10} {login.username:<10} {login.password}" for login in result.logins]
    path = demo_logins_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:  # never world-readable
        handle.write("\n".join(lines) + "\n")
    typer.echo(
        f"Seeded {result.customers} customers, {result.invoices} invoices, {result.payments} payments.\n"
        f"Demo sign-ins (also kept in {path}):"
    )
    typer.echo("\n".join(f"  {line}" for line in lines))


@app.command("demo-logins")
def demo_logins() -> None:
    """Print the demo sign-ins written by seed-demo."""
    path = demo_logins_file()
    if not path.exists():
        raise _fail(f"no demo sign-ins at {path}; run `python -m core seed-demo` on an empty database.")
    typer.echo("Demo sign-ins (role, username, password):")
    typer.echo("".join(f"  {line}\n" for line in path.read_text().splitlines()), nl=False)


@app.command("create-user")
def create_user(
    username: Annotated[str, typer.Option(help="Sign-in name (lowercase).")],
    role: Annotated[Role, typer.Option(help="admin, manager, collector or viewer.")],
    name: Annotated[str, typer.Option(help="Full name; defaults to the username.")] = "",
    email: Annotated[str, typer.Option(help="Email address.")] = "",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Create a user. The password is prompted for, or read from stdin."""
    from core.services import users

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with db.transaction() as session:
        user = users.create_user(
            session,
            Actor.system_process("create-user"),
            username=username,
            name=name or username,
            email=email or f"{username.strip().lower()}@localhost.localdomain",
            role=role,
            password=password,
        )
    typer.echo(f"Created {user.role.value} {user.username} (id {user.id}).")


@app.command("import")
def import_(
    kind: Annotated[str, typer.Argument(help="customers, invoices or payments.")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="A CSV or XLSX file.")],
    mapping: Annotated[str | None, typer.Option(help="A saved mapping profile; else columns are guessed.")] = None,
    sheet: Annotated[str | None, typer.Option(help="The sheet of an XLSX workbook with several.")] = None,
    currency: Annotated[str | None, typer.Option(help="Currency of every row, when the file has none.")] = None,
    country: Annotated[str | None, typer.Option(help="Country of new customers, when the file has none.")] = None,
    date_format: Annotated[str | None, typer.Option(help="e.g. DD/MM/YYYY; detected when unambiguous.")] = None,
    amount_style: Annotated[
        str | None, typer.Option(help="1,234.56 (default), 1.234,56, 1 234,56 or 1'234.56.")
    ] = None,
    source: Annotated[str | None, typer.Option(help="Where the rows come from; payments dedupe per source.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and count, write nothing.")] = False,
    valid_only: Annotated[
        bool, typer.Option("--valid-only", help="Write the valid rows even if some are refused.")
    ] = False,
    rejects: Annotated[
        Path | None, typer.Option(help="Write every refused row (row, column, value, reason) here.")
    ] = None,
) -> None:
    """Import a file. Refused rows are listed; without --valid-only nothing is written if any is refused."""
    from core.imports.fields import Mapping, guess_columns
    from core.imports.reading import headers, inspect
    from core.services import imports, mappings

    with db.transaction() as session:
        if mapping:
            chosen = mappings.get_profile(session, mapping).mapping
            if chosen.kind != kind:
                raise _fail(f"mapping {chosen.name!r} reads {chosen.kind} files, not {kind}.")
        else:
            chosen = Mapping(kind=kind, columns=guess_columns(kind, headers(file, inspect(file), sheet=sheet)))
        chosen = chosen.with_options(
            currency=currency and currency.upper(),
            country=country and country.upper(),
            date_format=date_format,
            amount_style=amount_style,
            source=source,
        )
        with typer.progressbar(length=100, label=f"Importing {file.name}", file=sys.stderr) as bar:
            done = [0]

            def progress(rows: int, expected: int | None) -> None:
                percent = min(100, rows * 100 // expected) if expected else 0
                bar.update(percent - done[0])
                done[0] = percent

            result = imports.import_file(
                session,
                Actor.system_process("import"),
                file,
                mapping=chosen,
                sheet=sheet,
                dry_run=dry_run,
                valid_only=valid_only,
                progress=progress,
            )
    _report(result)
    if rejects and result.problems_file:
        import pandas as pd

        from core.export import csv_bytes

        # Through the export helper like every download: a refused cell may hold a formula.
        rejects.write_bytes(csv_bytes(pd.read_csv(result.problems_file, dtype=str, keep_default_na=False)))
        typer.echo(f"Every refused row is listed in {rejects}.")
    if result.problems_file:
        result.problems_file.unlink(missing_ok=True)
    if result.rejected and not valid_only:
        raise typer.Exit(code=1)


def _report(result: ImportResult) -> None:
    typer.echo(
        f"{result.file_name}: {result.rows} rows: {result.new} new, {result.updated} updated, "
        f"{result.unchanged} unchanged, {result.rejected} refused."
    )
    extras = ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in result.details.items() if value)
    if extras:
        typer.echo(f"  also: {extras}.")
    if result.date_format:
        typer.echo(f"  dates read as {result.date_format}.")
    if result.encoding == "cp1252":
        typer.echo("  the file is not UTF-8: its text was read as Windows cp1252.", err=True)
    for problem in result.problems[:50]:
        typer.echo(f"  row {problem.row}, {problem.column}: {problem.reason}", err=True)
    if result.problem_count > 50:
        typer.echo(
            f"  … and {result.problem_count - 50} more problems (use --rejects FILE to list them all).", err=True
        )
    for warning in result.warnings[:20]:
        typer.echo(f"  warning: row {warning.row}, {warning.column}: {warning.reason}", err=True)
    if result.dry_run:
        typer.echo("Dry run: nothing was written.")
    elif result.written:
        typer.echo(f"Imported {result.valid} rows.")
    else:
        typer.echo(
            "Nothing was written because rows were refused. Fix them, or pass --valid-only to import the valid rows."
        )


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("RECOUP_LOG_LEVEL", "WARNING").upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        app()  # standalone: usage errors print their own message and exit 2
    except (RecoupError, ConfigError) as error:
        typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
        sys.exit(1)
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        typer.secho(f"error: cannot reach the database: {reason}", fg=typer.colors.RED, err=True)
        sys.exit(1)
    except ProgrammingError as error:
        if isinstance(error.orig, psycopg.errors.UndefinedTable):
            message = "the database has no Recoup tables yet; run `python -m core migrate` first."
        else:
            message = f"the database refused a query: {str(error.orig).strip().splitlines()[0]}"
        typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
        sys.exit(1)
