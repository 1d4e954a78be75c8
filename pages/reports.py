"""Reports: aging as of any date, DSO and CEI month by month, recovery, late payers — each cut by
period, currency, country, segment and collector, each with its numbers beside its chart and a CSV
and XLSX download. Collectors see their own accounts' figures. Definitions: README, Reports."""

from dataclasses import replace
from datetime import date

import altair as alt
import pandas as pd
import streamlit as st

from core import db
from core.aging import BUCKETS
from core.errors import RecoupError
from core.roles import Role
from core.services import queue, reports
from core.services.reports import ReportFilter
from ui.auth import require_page
from ui.export import download_buttons

user = require_page("reports")
actor = user.as_actor()

st.title("Reports")
today = date.today()
first, _ = reports.period_default(today)
with db.transaction() as session:
    choices = queue.queue_choices(session, actor)
    known_currencies = reports.currencies(session)

cols = st.columns([2, 1, 1, 1, 1, 2])
# Streamlit's default range is ten years either side of the value: older books (IBM's sample is
# 2012–2013) need their own dates reachable.
EARLIEST, LATEST = date(1990, 1, 1), date(today.year + 5, 12, 31)
period = cols[0].date_input(
    "Period", value=(first, today), min_value=EARLIEST, max_value=LATEST, key="reports_period", format="YYYY-MM-DD"
)
as_of = cols[1].date_input(
    "Aging as of",
    value=today,
    min_value=EARLIEST,
    max_value=LATEST,
    key="reports_as_of",
    format="YYYY-MM-DD",
    help="Today and the last month end are precomputed by the day's reminder batch and open fastest; "
    "any other day is added up from the invoices. The figures are the same either way.",
)
currency = cols[2].selectbox(
    "Currency", [None, *known_currencies], format_func=lambda c: c or "Each", key="reports_currency"
)
country = cols[3].selectbox(
    "Country", [None, *choices.countries], format_func=lambda c: c or "Any", key="reports_country"
)
segment = cols[4].selectbox(
    "Segment", [None, *choices.segments], format_func=lambda s: s or "Any", key="reports_segment"
)
collectors = {None: "Any", 0: "Unassigned", **dict(choices.collectors)}
if user.role is Role.COLLECTOR:
    cols[5].caption("Your accounts only.")
    collector = None
else:
    collector = cols[5].selectbox(
        "Collector", list(collectors), format_func=collectors.__getitem__, key="reports_collector"
    )
if not isinstance(period, tuple) or len(period) != 2:
    st.info("Pick the period's first and last day.")
    st.stop()

try:
    chosen = ReportFilter(
        as_of=as_of,
        start=period[0],
        end=period[1],
        currency=currency,
        country=country,
        segment=segment,
        collector_id=collector,
    )
except RecoupError as error:
    st.error(str(error))
    st.stop()


SHOWN_ROWS = reports.SHOWN_ROWS  # rows a table draws; the downloads carry them all


def numbers(table: pd.DataFrame, *, name: str, key: str) -> None:
    """The table behind a chart, one click away, with its downloads."""
    with st.expander("Numbers"):
        st.dataframe(table, hide_index=True)
    download_buttons(table, name=name, key=key)


tabs = st.tabs(
    [
        "Aging",
        "DSO and CEI",
        "Recovery",
        "Late payers",
        "Collectors",
        "Channels and steps",
        "Promises",
        "Cash forecast",
        "Disputes",
    ]
)

with tabs[0]:
    group_by = st.segmented_control(
        "By", list(reports.GROUPS), default="customer", key="reports_aging_group", format_func=str.capitalize
    )
    grouping = group_by or "customer"
    with db.transaction() as session:
        aging = reports.aging_overview(session, actor, chosen, group_by=grouping, shown=SHOWN_ROWS)
    if aging.totals.empty:
        st.info(f"Nothing was owed on {as_of:%d %b %Y} for these choices.")
    else:
        totals = aging.totals
        long = totals.melt(id_vars="currency", value_vars=list(BUCKETS), var_name="bucket", value_name="open")
        long["open"] = long["open"].astype(float)
        st.altair_chart(
            alt.Chart(long)
            .mark_bar()
            .encode(
                x=alt.X("bucket:N", sort=list(BUCKETS), title="Days past due"),
                y=alt.Y("open:Q", title="Open balance"),
                column=alt.Column("currency:N", title=None),
                tooltip=["currency", "bucket", alt.Tooltip("open:Q", format=",.2f")],
            )
            .resolve_scale(y="independent")
            .properties(height=220),
        )
        st.caption("Each currency on its own scale: amounts in different currencies are never added.")
        st.dataframe(totals, hide_index=True)
        if len(aging.largest) < aging.group_count:
            st.caption(
                f"The {SHOWN_ROWS:,} largest {grouping} rows of each currency, of {aging.group_count:,};"
                " the downloads have them all."
            )
        table = aging.largest.drop(columns=["group_key"])
        if grouping == "customer":
            table.insert(0, "account", [f"/account?id={key}" for key in aging.largest["group_key"]])
        st.dataframe(
            table,
            hide_index=True,
            column_config={"account": st.column_config.LinkColumn("Account", display_text="open")},
            key="reports_aging_table",
        )

        def every_group() -> pd.DataFrame:  # read when a download is clicked, not on every run
            with db.transaction() as session:
                return reports.aging(session, actor, chosen, group_by=grouping)

        download_buttons(every_group, name=f"recoup-aging-{as_of.isoformat()}", key="reports_aging_download")
        if group_by not in (None, "customer"):
            labels = dict(zip(aging.largest["group_key"], aging.largest["label"], strict=True))
            drill = st.selectbox(
                f"Accounts of one {group_by}",
                [None, *(k for k in labels if k != "")],  # accounts without a segment: filter by hand
                format_func=lambda k: "—" if k is None else labels[k],
                key="reports_aging_drill",
            )
            if drill is not None:
                if group_by == "collector":
                    narrowed: dict[str, object] = {"collector_id": int(drill)}
                else:
                    narrowed = {group_by: drill or None}  # segment or country; "" is "no segment"
                with db.transaction() as session:
                    drilled = reports.aging_overview(
                        session, actor, replace(chosen, **narrowed), group_by="customer", shown=SHOWN_ROWS
                    )
                accounts = drilled.largest
                if len(accounts) < drilled.group_count:
                    st.caption(f"The {SHOWN_ROWS:,} largest accounts of each currency, of {drilled.group_count:,}.")
                accounts.insert(0, "account", [f"/account?id={key}" for key in accounts["group_key"]])
                st.dataframe(
                    accounts.drop(columns=["group_key"]),
                    hide_index=True,
                    column_config={"account": st.column_config.LinkColumn("Account", display_text="open")},
                )

with tabs[1]:
    st.caption(
        "DSO by the countback method: what is owed at the month end, taken back through each month's credit "
        "sales. Standard DSO, best possible DSO (current receivables only) and average days delinquent "
        "beside it; CEI per month. Definitions in the README."
    )
    with db.transaction() as session:
        monthly = reports.monthly(session, actor, chosen)
    if monthly.empty:
        st.info("No invoices in this period for these choices.")
    else:
        chart = monthly.melt(
            id_vars=["currency", "month"], value_vars=["dso_countback", "best_possible_dso"], var_name="figure"
        ).dropna()
        chart["value"] = chart["value"].astype(float)
        st.altair_chart(
            alt.Chart(chart)
            .mark_line(point=True)
            .encode(
                x=alt.X("month:T", title=None),
                y=alt.Y("value:Q", title="Days"),
                color="figure:N",
                strokeDash="currency:N",
                tooltip=["currency", "month", "figure", "value"],
            )
            .properties(height=260),
        )
        cei = monthly.dropna(subset=["cei"]).assign(cei=lambda f: f["cei"].astype(float))
        if not cei.empty:
            st.altair_chart(
                alt.Chart(cei)
                .mark_bar()
                .encode(
                    x=alt.X("month:T", title=None),
                    y=alt.Y("cei:Q", title="CEI %"),
                    color="currency:N",
                    xOffset="currency:N",
                    tooltip=["currency", "month", "cei"],
                )
                .properties(height=200),
            )
        numbers(monthly, name="recoup-dso-cei", key="reports_monthly_download")

with tabs[2]:
    st.caption(
        "Of what was overdue when the period began, the share collected by its end (payments received in "
        "the period on those invoices)."
    )
    with db.transaction() as session:
        recovered = reports.recovery(session, actor, chosen)
    if recovered.empty:
        st.info("Nothing was overdue at the start of this period.")
    else:
        for row in recovered.itertuples():
            st.metric(
                f"Recovered, {row.currency}",
                f"{row.recovery_rate}%",
                help=f"{row.collected:,.2f} of {row.overdue_at_start:,.2f} overdue on {chosen.start:%d %b %Y}",
            )
        numbers(recovered, name="recoup-recovery", key="reports_recovery_download")

with tabs[3]:
    st.caption(
        "Customers by how often they pay late, over the invoices settled in the period: share paid after the "
        "due date, average and median days late (an early payment counts as 0), and the trend — average days "
        "late in the second half of the period minus the first (positive: paying later)."
    )
    with db.transaction() as session:
        late = reports.late_payers(session, actor, chosen, shown=SHOWN_ROWS)
    if late.empty:
        st.info("No invoice was settled in this period for these choices.")
    else:
        top = late.head(25).assign(late_share=lambda f: f["late_share"].astype(float) * 100)
        st.altair_chart(
            alt.Chart(top)
            .mark_bar()
            .encode(
                x=alt.X("late_share:Q", title="% of invoices paid late"),
                y=alt.Y("customer:N", sort="-x", title=None),
                tooltip=["customer", "invoices_paid", "paid_late", "average_days_late", "median_days_late"],
            )
            .properties(height=min(25, len(top)) * 18 + 30),
        )
        if (everyone := int(late["customers"].iloc[0])) > len(late):
            st.caption(f"The {len(late):,} latest payers of {everyone:,} customers; the downloads have them all.")
        table = late.drop(columns=["customers"])
        table.insert(0, "account", [f"/account?id={c}" for c in table["customer_id"]])
        st.dataframe(
            table.drop(columns=["customer_id"]),
            hide_index=True,
            column_config={"account": st.column_config.LinkColumn("Account", display_text="open")},
        )

        def every_customer() -> pd.DataFrame:  # read when a download is clicked, not on every run
            with db.transaction() as session:
                return reports.late_payers(session, actor, chosen)

        download_buttons(every_customer, name="recoup-late-payers", key="reports_late_download")

with tabs[4]:
    st.caption(
        "Per collector over the period: outbound call attempts they logged, right-party contacts (a conversation "
        "with the debtor), promises they took and kept, what payments collected on the accounts assigned to "
        "them now, and the average days late of the invoices those payments completed."
    )
    with db.transaction() as session:
        team = reports.collectors(session, actor, chosen)
    if team.empty:
        st.info("No collector has accounts or activity for these choices.")
    else:
        collected = team[team["currency"] != ""].assign(collected=lambda f: f["collected"].astype(float))
        if not collected.empty:
            st.altair_chart(
                alt.Chart(collected)
                .mark_bar()
                .encode(
                    x=alt.X("collected:Q", title="Collected"),
                    y=alt.Y("collector:N", sort="-x", title=None),
                    row=alt.Row("currency:N", title=None),
                    tooltip=["collector", "currency", "collected", "attempts", "right_party_contacts"],
                )
                .resolve_scale(x="independent")
                .properties(height=max(60, 22 * collected["collector"].nunique())),
            )
        numbers(team, name="recoup-collectors", key="reports_collectors_download")

with tabs[6]:
    st.caption(
        "Promises made in the period by who took them and how: made, kept, broken, still pending, cancelled. "
        "Kept-rate = kept ÷ (kept + broken)."
    )
    with db.transaction() as session:
        made = reports.promises(session, actor, chosen)
    if made.empty:
        st.info("No promise was made in this period for these choices.")
    else:
        rates = made.dropna(subset=["kept_rate"]).assign(kept_rate=lambda f: f["kept_rate"].astype(float))
        if not rates.empty:
            st.altair_chart(
                alt.Chart(rates)
                .mark_bar()
                .encode(
                    x=alt.X("kept_rate:Q", title="Kept-rate %", scale=alt.Scale(domain=[0, 100])),
                    y=alt.Y("taken_by:N", title=None),
                    color="channel:N",
                    yOffset="channel:N",
                    tooltip=["currency", "taken_by", "channel", "made", "kept", "broken", "kept_rate"],
                )
                .properties(height=max(80, 28 * len(rates))),
            )
        numbers(made, name="recoup-promises", key="reports_promises_download")

with tabs[7]:
    st.caption(
        f"The 13 weeks from the week of {as_of:%d %b %Y}: plan instalments not yet paid and pending promises, by "
        "the week they fall due (anything overdue in the first week), as promised and weighted by each "
        "customer's own kept-rate (the book's when the customer has no history)."
    )
    with db.transaction() as session:
        expected = reports.forecast(session, actor, chosen)
    if expected.empty:
        st.info("No plan instalment or promise falls due in these 13 weeks.")
    else:
        weekly = expected.groupby(["currency", "week"], as_index=False)[["amount", "weighted"]].sum()
        long = weekly.melt(id_vars=["currency", "week"], value_vars=["amount", "weighted"], var_name="figure")
        long["value"] = long["value"].astype(float)
        st.altair_chart(
            alt.Chart(long)
            .mark_bar()
            .encode(
                x=alt.X("week:T", title=None),
                y=alt.Y("value:Q", title="Expected"),
                color=alt.Color("figure:N", title=None),
                xOffset="figure:N",
                row=alt.Row("currency:N", title=None),
                tooltip=["currency", "week", "figure", alt.Tooltip("value:Q", format=",.2f")],
            )
            .resolve_scale(y="independent")
            .properties(height=200),
        )
        numbers(expected, name="recoup-cash-forecast", key="reports_forecast_download")

with tabs[8]:
    st.caption(f"Disputes open on {as_of:%d %b %Y}, by reason and how long they have been open.")
    with db.transaction() as session:
        open_disputes = reports.disputes(session, actor, chosen)
    if open_disputes.empty:
        st.info("No dispute is open for these choices.")
    else:
        st.altair_chart(
            alt.Chart(open_disputes)
            .mark_bar()
            .encode(
                x=alt.X("disputes:Q", title="Open disputes"),
                y=alt.Y("category:N", title=None),
                color=alt.Color("age:N", sort=["0-7 days", "8-30 days", "31-60 days", "60+ days"]),
                tooltip=["currency", "category", "age", "disputes", "owed", "oldest_days"],
            )
            .properties(height=max(80, 26 * open_disputes["category"].nunique())),
        )
        numbers(open_disputes, name="recoup-disputes", key="reports_disputes_download")

with tabs[5]:
    st.caption(
        "For each sequence step and channel, the reminders sent in the period by the debt's aging bucket on the "
        "day sent, and the share of those customers who paid something within 3, 7 and 14 days — beside the "
        "customers overdue in the same bucket that week who were sent nothing, counted from its Monday."
    )
    with db.transaction() as session:
        effect = reports.channels(session, actor, chosen)
    if effect.empty:
        st.info("No reminder was sent in this period for these choices.")
    else:
        compare = pd.concat(
            [
                effect.assign(who="reminded", share=effect["paid_within_7_days"]),
                effect.assign(who="not contacted", share=effect["not_contacted_paid_7_days"]),
            ]
        ).dropna(subset=["share"])
        compare["share"] = compare["share"].astype(float)
        compare["step"] = compare["sequence"] + " · " + compare["stage"] + " · " + compare["channel"]
        st.altair_chart(
            alt.Chart(compare)
            .mark_bar()
            .encode(
                x=alt.X("share:Q", title="% paid within 7 days", scale=alt.Scale(domain=[0, 100])),
                y=alt.Y("step:N", title=None),
                color=alt.Color("who:N", title=None),
                yOffset="who:N",
                row=alt.Row("bucket:N", title=None),
                tooltip=["currency", "step", "bucket", "who", "share"],
            )
            .properties(height=max(60, 30 * compare["step"].nunique())),
        )
        numbers(effect, name="recoup-channels", key="reports_channels_download")
