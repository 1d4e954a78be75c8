"""The compliance guard says no with every reason, and when only time is in the way, says when."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.compliance import ContactRequest, ContactRules, PastContact, decide, rules_for
from core.errors import ValidationError

US, PH, SG = rules_for("US"), rules_for("PH"), rules_for("SG")
NEW_YORK, LOS_ANGELES, MANILA, SINGAPORE = "America/New_York", "America/Los_Angeles", "Asia/Manila", "Asia/Singapore"
PHONE, OTHER_PHONE = "+15551234567", "+15557654321"
DAY = timedelta(days=1)


def local(zone: str, *parts: int, fold: int = 0) -> datetime:
    """A wall-clock time in `zone`, as the UTC instant the guard is given."""
    return datetime(*parts, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)  # type: ignore[misc]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def request(**changes: object) -> ContactRequest:
    base: dict[str, object] = {
        "channel": "email",
        "address": "ana@example.com",
        "time_zone": NEW_YORK,
        "contact_id": 1,
        "debt_key": "INV-1",
        "has_opt_out_line": True,
    }
    return ContactRequest(**{**base, **changes})  # type: ignore[arg-type]


def call(at: datetime, outcome: str = "no_answer", **changes: object) -> PastContact:
    base: dict[str, object] = {"address": PHONE, "debt_key": "INV-1", "contact_id": 1, "outcome": outcome}
    return PastContact(at, "call", **{**base, **changes})  # type: ignore[arg-type]


def message(at: datetime, channel: str = "email", **changes: object) -> PastContact:
    return PastContact(at, channel, **{"address": "ana@example.com", "contact_id": 1, **changes})  # type: ignore[arg-type]


def codes(decision: object) -> list[str]:
    return [reason.code for reason in decision.reasons]  # type: ignore[attr-defined]


# Hours: "08:00–21:00" means from 08:00 up to, not including, 21:00.


@pytest.mark.parametrize("channel", ["email", "sms", "call"])
def test_a_us_debtor_may_be_contacted_from_exactly_eight_in_the_morning(channel):
    ask = request(channel=channel, address="ana@example.com" if channel == "email" else PHONE)
    opening = local(NEW_YORK, 2026, 5, 5, 8, 0)

    assert decide(ask, US, now=opening).allowed
    assert not decide(ask, US, now=opening - timedelta(seconds=1)).allowed


def test_until_21_00_means_21_00_itself_is_too_late():
    assert decide(request(), US, now=local(NEW_YORK, 2026, 5, 5, 20, 59, 59)).allowed
    assert not decide(request(), US, now=local(NEW_YORK, 2026, 5, 5, 21, 0)).allowed


def test_quiet_hours_say_the_local_time_and_retry_at_the_next_opening():
    decision = decide(request(), US, now=local(NEW_YORK, 2026, 5, 5, 22, 41))

    assert not decision.allowed
    assert decision.explain() == "quiet hours: 22:41 in America/New_York, contact 08:00–21:00"
    assert codes(decision) == ["quiet_hours"]
    assert decision.retry_at == local(NEW_YORK, 2026, 5, 6, 8, 0) == utc(2026, 5, 6, 12, 0)


def test_before_the_opening_the_retry_is_the_same_morning():
    decision = decide(request(time_zone=LOS_ANGELES), US, now=local(LOS_ANGELES, 2026, 5, 5, 6, 15))

    assert decision.retry_at == utc(2026, 5, 5, 15, 0)


@pytest.mark.parametrize(
    ("zone", "blocked_at", "opening"),
    [
        (NEW_YORK, utc(2026, 3, 8, 11, 30), utc(2026, 3, 8, 12, 0)),  # 07:30 EDT → 08:00 EDT
        (LOS_ANGELES, utc(2026, 3, 8, 14, 30), utc(2026, 3, 8, 15, 0)),  # 07:30 PDT → 08:00 PDT
    ],
)
def test_on_the_spring_forward_day_the_hours_follow_the_new_clock(zone, blocked_at, opening):
    assert blocked_at.astimezone(ZoneInfo(zone)).strftime("%H:%M") == "07:30"
    decision = decide(request(time_zone=zone), US, now=blocked_at)

    assert not decision.allowed
    assert decision.retry_at == opening
    assert decide(request(time_zone=zone), US, now=opening).allowed
    # At 01:30, before the clocks jump, the opening is still 08:00 on the new clock.
    assert decide(request(time_zone=zone), US, now=local(zone, 2026, 3, 8, 1, 30)).retry_at == opening


@pytest.mark.parametrize(
    ("zone", "blocked_at", "opening", "last_allowed"),
    [
        (NEW_YORK, utc(2026, 11, 1, 12, 30), utc(2026, 11, 1, 13, 0), utc(2026, 11, 2, 1, 59)),
        (LOS_ANGELES, utc(2026, 11, 1, 15, 30), utc(2026, 11, 1, 16, 0), utc(2026, 11, 2, 4, 59)),
    ],
)
def test_on_the_fall_back_day_the_hours_follow_the_old_clock(zone, blocked_at, opening, last_allowed):
    assert blocked_at.astimezone(ZoneInfo(zone)).strftime("%H:%M") == "07:30"

    assert decide(request(time_zone=zone), US, now=blocked_at).retry_at == opening
    assert decide(request(time_zone=zone), US, now=last_allowed).allowed  # 20:59 standard time
    assert not decide(request(time_zone=zone), US, now=last_allowed + timedelta(minutes=1)).allowed
    # From 21:30 the evening before, the 25-hour night still ends at 08:00 standard time.
    assert decide(request(time_zone=zone), US, now=local(zone, 2026, 10, 31, 21, 30)).retry_at == opening


def test_an_opening_the_clock_skips_opens_the_moment_the_clock_jumps():
    rules = rules_for("US", {"US": {"earliest": "02:30"}})

    decision = decide(request(), rules, now=local(NEW_YORK, 2026, 3, 8, 1, 45))

    assert decision.retry_at == utc(2026, 3, 8, 7, 0)  # 03:00 EDT: 02:30 never happens that night
    assert decide(request(), rules, now=decision.retry_at).allowed


def test_an_opening_the_clock_reads_twice_opens_at_the_first_reading_unless_it_has_passed():
    rules = rules_for("US", {"US": {"earliest": "01:30"}})

    before_both = decide(request(), rules, now=local(NEW_YORK, 2026, 11, 1, 0, 45))
    between = decide(request(), rules, now=local(NEW_YORK, 2026, 11, 1, 1, 10, fold=1))

    assert before_both.retry_at == utc(2026, 11, 1, 5, 30)  # 01:30 EDT
    assert between.retry_at == utc(2026, 11, 1, 6, 30)  # 01:30 EST, the clock's second pass


def test_a_ph_debtor_may_be_contacted_from_06_00_until_22_00_manila_time():
    assert not decide(request(time_zone=MANILA), PH, now=local(MANILA, 2026, 5, 5, 5, 59)).allowed
    assert decide(request(time_zone=MANILA), PH, now=local(MANILA, 2026, 5, 5, 6, 0)).allowed
    assert decide(request(time_zone=MANILA), PH, now=local(MANILA, 2026, 5, 5, 21, 59)).allowed
    late = decide(request(time_zone=MANILA), PH, now=local(MANILA, 2026, 5, 5, 22, 0))
    assert late.retry_at == local(MANILA, 2026, 5, 6, 6, 0)


def test_ph_hours_are_manila_time_whatever_zone_the_customer_record_says():
    at_0700_manila = local(MANILA, 2026, 5, 5, 7, 0)  # 16:00 the evening before in Los Angeles
    at_2300_manila = local(MANILA, 2026, 5, 5, 23, 0)  # 08:00 in Los Angeles

    assert decide(request(time_zone=LOS_ANGELES), PH, now=at_0700_manila).allowed
    late = decide(request(time_zone=LOS_ANGELES), PH, now=at_2300_manila)
    assert late.explain() == "quiet hours: 23:00 in Asia/Manila, contact 06:00–22:00"
    assert decide(request(time_zone=None), PH, now=at_0700_manila).allowed  # no zone needed


def test_ph_hours_do_not_apply_past_15_days_past_due_or_with_consent():
    at_night = local(MANILA, 2026, 5, 5, 23, 0)

    assert not decide(request(time_zone=MANILA, days_past_due=15), PH, now=at_night).allowed
    assert decide(request(time_zone=MANILA, days_past_due=16), PH, now=at_night).allowed
    assert decide(request(time_zone=MANILA, hours_consent=True), PH, now=at_night).allowed


def test_us_hours_are_not_waived_by_consent_or_days_past_due_by_default():
    at_night = local(NEW_YORK, 2026, 5, 5, 23, 0)

    assert not decide(request(hours_consent=True, days_past_due=400), US, now=at_night).allowed


def test_an_sg_debtor_may_be_contacted_from_08_00_until_21_00_singapore_time():
    sg = request(time_zone=SINGAPORE)
    assert not decide(sg, SG, now=local(SINGAPORE, 2026, 5, 5, 7, 59)).allowed
    assert decide(sg, SG, now=local(SINGAPORE, 2026, 5, 5, 8, 0)).allowed
    assert not decide(sg, SG, now=local(SINGAPORE, 2026, 5, 5, 21, 0)).allowed


@pytest.mark.parametrize("zone", [None, "", "Mars/Olympus_Mons", "America", "../etc/passwd"])
@pytest.mark.parametrize("channel", ["email", "sms", "call"])
def test_an_unknown_time_zone_stops_timed_channels_for_good(zone, channel):
    decision = decide(request(channel=channel, time_zone=zone), US, now=local(NEW_YORK, 2026, 5, 5, 12, 0))

    assert (decision.allowed, decision.explain(), decision.retry_at) == (False, "unknown time zone", None)


def test_letters_are_posted_so_no_hours_or_time_zone_apply():
    at_night = local(NEW_YORK, 2026, 5, 5, 3, 0)

    assert decide(request(channel="letter", address="1 Main St", time_zone=None), US, now=at_night).allowed
    assert decide(request(channel="letter", address="1 Main St", bankrupt=True), US, now=at_night).explain() == (
        "bankrupt"
    )


NOON = local(NEW_YORK, 2026, 5, 5, 12, 0)


def test_an_opt_out_of_one_channel_stops_that_channel_only():
    sms = decide(request(channel="sms", address=PHONE, opted_out_channels=frozenset({"sms"})), US, now=NOON)

    assert (sms.allowed, sms.explain(), sms.retry_at) == (False, "opted out of sms", None)
    assert decide(request(opted_out_channels=frozenset({"sms"})), US, now=NOON).allowed


def test_an_opted_out_address_stops_that_address_only():
    out = frozenset({PHONE, "Ana@Example.com"})

    assert decide(request(channel="sms", address=PHONE, opted_out_addresses=out), US, now=NOON).explain() == (
        "address opted out: +15551234567"
    )
    assert decide(request(channel="sms", address=OTHER_PHONE, opted_out_addresses=out), US, now=NOON).allowed
    assert codes(decide(request(address="ana@example.com", opted_out_addresses=out), US, now=NOON)) == [
        "opted_out_address"
    ]


@pytest.mark.parametrize(
    ("flag", "text"),
    [
        ("on_hold", "on hold"),
        ("bankrupt", "bankrupt"),
        ("attorney_on_record", "attorney on record"),
        ("deceased", "deceased"),
        ("do_not_contact", "do not contact"),
        ("disputed", "disputed"),
    ],
)
@pytest.mark.parametrize("channel", ["email", "sms", "letter", "call"])
def test_every_flag_stops_every_channel_for_good(flag, text, channel):
    decision = decide(request(channel=channel, **{flag: True}), US, now=NOON)

    assert (decision.allowed, decision.explain(), decision.retry_at) == (False, text, None)
    assert codes(decision) == [flag]


def test_a_hold_with_an_end_date_waits_until_that_morning():
    decision = decide(request(on_hold=True, hold_until=date(2026, 12, 1)), US, now=NOON)

    assert decision.explain() == "on hold until 2026-12-01"
    assert decision.retry_at == local(NEW_YORK, 2026, 12, 1, 8, 0)


@pytest.mark.parametrize("until", [date(2026, 5, 5), date(2026, 5, 4), date(2025, 1, 1)])
def test_a_hold_that_has_ended_does_not_stop_contact(until):
    assert decide(request(on_hold=True, hold_until=until), US, now=NOON).allowed


def test_a_hold_ends_at_midnight_in_the_debtors_time_zone():
    hold = request(channel="letter", address="1 Main St", on_hold=True, hold_until=date(2026, 5, 6))

    assert decide(hold, US, now=local(NEW_YORK, 2026, 5, 5, 23, 59)).retry_at == local(NEW_YORK, 2026, 5, 6, 0, 0)
    assert decide(hold, US, now=local(NEW_YORK, 2026, 5, 6, 0, 0)).allowed


def test_ph_rules_allow_only_the_debtor_and_guarantors():
    at_noon = local(MANILA, 2026, 5, 5, 12, 0)

    assert decide(request(time_zone=MANILA, contact_role="guarantor"), PH, now=at_noon).allowed
    refused = decide(request(time_zone=MANILA, contact_role="billing"), PH, now=at_noon)
    assert (refused.explain(), refused.retry_at) == ("contact role billing may not be contacted", None)


def test_us_and_sg_rules_allow_billing_contacts_and_nobody_allows_third_parties():
    assert decide(request(contact_role="billing"), US, now=NOON).allowed
    assert decide(
        request(contact_role="billing", time_zone=SINGAPORE), SG, now=local(SINGAPORE, 2026, 5, 5, 12)
    ).allowed
    for rules in (US, PH, SG):
        assert "role_not_allowed" in codes(decide(request(contact_role="third_party"), rules, now=NOON))


def test_an_email_or_sms_without_an_opt_out_line_is_refused():
    assert decide(request(has_opt_out_line=False), US, now=NOON).explain() == "no opt-out line in the message"
    sms = request(channel="sms", address=PHONE, has_opt_out_line=False)
    assert codes(decide(sms, US, now=NOON)) == ["no_opt_out_line"]
    assert decide(request(channel="call", address=PHONE, has_opt_out_line=False), US, now=NOON).allowed


def test_no_consent_for_a_channel_stops_it():
    decision = decide(request(channel="sms", address=PHONE, consent=False), US, now=NOON)

    assert (decision.explain(), decision.retry_at) == ("no consent to sms", None)


# Caps count only messages that went out: history entries with sent=False (failed sends) never count.


def test_one_sms_a_day_then_the_next_when_the_first_is_24_hours_old():
    earlier = NOON - timedelta(hours=3)
    decision = decide(request(channel="sms", address=PHONE, history=(message(earlier, "sms"),)), US, now=NOON)

    assert (decision.explain(), codes(decision)) == ("daily SMS cap reached (1)", ["daily_sms_cap"])
    assert decision.retry_at == earlier + timedelta(days=1)
    assert decide(request(channel="sms", address=PHONE, history=(message(earlier, "sms"),)), US, now=NOON + DAY).allowed


def test_a_failed_sms_does_not_count_towards_the_cap():
    failed = message(NOON - timedelta(hours=3), "sms", sent=False)

    assert decide(request(channel="sms", address=PHONE, history=(failed,)), US, now=NOON).allowed


def test_the_daily_cap_is_per_customer_not_per_number_and_email_is_not_an_sms():
    to_other_number = message(NOON - timedelta(hours=3), "sms", address=OTHER_PHONE, contact_id=2)

    assert not decide(request(channel="sms", address=PHONE, history=(to_other_number,)), US, now=NOON).allowed
    assert decide(request(history=(to_other_number,)), US, now=NOON).allowed


def test_three_messages_a_week_then_the_next_when_the_oldest_leaves_the_week():
    sent = (
        message(NOON - timedelta(days=6, hours=1), "email"),
        message(NOON - timedelta(days=4), "sms"),
        message(NOON - timedelta(days=1), "email"),
    )
    decision = decide(request(history=sent), US, now=NOON)

    assert decision.explain() == "weekly message cap reached (3)"
    assert decision.retry_at == NOON + timedelta(hours=23)  # 11:00 tomorrow, within the hours


def test_a_cap_clearing_at_night_is_retried_when_the_hours_open():
    sent = tuple(message(local(NEW_YORK, 2026, 4, 29, 22, 30) + timedelta(hours=hours)) for hours in (0, 1, 2))

    decision = decide(request(history=sent), US, now=NOON)

    assert decision.retry_at == local(NEW_YORK, 2026, 5, 7, 8, 0)


def test_failed_inbound_calls_and_letters_do_not_count_towards_the_weekly_cap():
    history = (
        message(NOON - timedelta(days=2)),
        message(NOON - timedelta(days=1), "sms"),
        message(NOON - timedelta(hours=5), sent=False),
        message(NOON - timedelta(hours=4), direction="inbound"),
        message(NOON - timedelta(hours=3), "letter", address="1 Main St"),
        call(NOON - timedelta(hours=2)),
    )

    assert decide(request(history=history), US, now=NOON).allowed


def test_letters_and_calls_are_not_capped_as_messages():
    history = tuple(message(NOON - timedelta(hours=hours)) for hours in (1, 2, 3))

    assert decide(request(channel="letter", address="1 Main St", history=history), US, now=NOON).allowed
    assert decide(request(channel="call", address=PHONE, history=history), US, now=NOON).allowed


def seven_attempts(**changes: object) -> tuple[PastContact, ...]:
    return tuple(
        call(
            NOON - timedelta(days=6, hours=2) + timedelta(days=day), "voicemail" if day % 2 else "no_answer", **changes
        )
        for day in range(7)
    )


def test_the_eighth_call_attempt_in_seven_days_is_refused_until_the_oldest_is_a_week_old():
    history = seven_attempts()
    decision = decide(request(channel="call", address=PHONE, history=history), US, now=NOON)

    assert decision.explain() == "7 call attempts in the last 7 days about this debt"
    assert decision.retry_at == history[0].at + timedelta(days=7)
    assert decide(request(channel="call", address=PHONE, history=history[1:]), US, now=NOON).allowed


def test_call_attempts_to_different_numbers_of_one_person_count_together():
    history = tuple(
        replace(past, address=OTHER_PHONE) if index % 2 else past for index, past in enumerate(seven_attempts())
    )

    assert codes(decide(request(channel="call", address=PHONE, history=history), US, now=NOON)) == ["call_attempts"]


def test_call_attempts_about_another_debt_or_to_another_person_do_not_count():
    other_debt = request(channel="call", address=PHONE, history=seven_attempts(debt_key="INV-2"))
    other_person = request(channel="call", address=PHONE, history=seven_attempts(contact_id=2))

    assert decide(other_debt, US, now=NOON).allowed
    assert decide(other_person, US, now=NOON).allowed


def test_busy_failed_and_consented_calls_are_not_attempts():
    history = seven_attempts()[:4] + (
        call(NOON - timedelta(hours=5), "busy"),
        call(NOON - timedelta(hours=4), "not_in_service"),
        call(NOON - timedelta(hours=3), sent=False),
        call(NOON - timedelta(hours=2), consented=True),
    )

    assert decide(request(channel="call", address=PHONE, history=history), US, now=NOON).allowed


def test_no_call_within_seven_days_after_a_conversation_about_the_debt():
    talked = NOON - timedelta(days=3, hours=1)
    history = (call(talked, "rpc", address=OTHER_PHONE),)
    decision = decide(request(channel="call", address=PHONE, history=history), US, now=NOON)

    assert decision.explain() == "telephone conversation about this debt 3 days ago"
    assert decision.retry_at == talked + timedelta(days=7)


def test_a_conversation_the_debtor_started_counts_but_one_about_another_debt_does_not():
    inbound = (call(NOON - timedelta(days=1), "promise_made", direction="inbound"),)
    other_debt = (call(NOON - timedelta(days=1), "rpc", debt_key="INV-2"),)

    assert codes(decide(request(channel="call", address=PHONE, history=inbound), US, now=NOON)) == [
        "recent_conversation"
    ]
    assert decide(request(channel="call", address=PHONE, history=other_debt), US, now=NOON).allowed


def test_a_call_the_debtor_asked_for_is_not_limited():
    history = seven_attempts() + (call(NOON - timedelta(hours=1), "rpc"),)

    assert decide(request(channel="call", address=PHONE, history=history, call_consent=True), US, now=NOON).allowed


def test_ph_and_sg_have_no_call_count_by_default():
    history = seven_attempts() + (call(NOON - timedelta(hours=1), "rpc"),)
    at_noon_manila, at_noon_singapore = local(MANILA, 2026, 5, 5, 12), local(SINGAPORE, 2026, 5, 5, 12)

    in_manila = request(channel="call", address=PHONE, time_zone=MANILA, history=history)
    in_singapore = request(channel="call", address=PHONE, time_zone=SINGAPORE, history=history)

    assert decide(in_manila, PH, now=at_noon_manila).allowed
    assert decide(in_singapore, SG, now=at_noon_singapore).allowed


def test_every_reason_is_reported_together_and_a_permanent_one_means_no_retry():
    decision = decide(
        request(
            channel="sms",
            address=PHONE,
            bankrupt=True,
            opted_out_channels=frozenset({"sms"}),
            has_opt_out_line=False,
            history=(message(NOON - timedelta(hours=1), "sms"),),
        ),
        US,
        now=local(NEW_YORK, 2026, 5, 5, 22, 41),
    )

    assert codes(decision) == ["bankrupt", "opted_out_channel", "no_opt_out_line", "quiet_hours", "daily_sms_cap"]
    assert decision.retry_at is None


def test_with_several_time_reasons_the_retry_is_when_the_last_clears_within_the_hours():
    late_evening = local(NEW_YORK, 2026, 5, 5, 22, 0)
    sms_at = {hour: message(local(NEW_YORK, 2026, 5, 5, hour, 0), "sms") for hour in (6, 20)}

    cap_last = decide(request(channel="sms", address=PHONE, history=(sms_at[20],)), US, now=late_evening)
    hours_last = decide(request(channel="sms", address=PHONE, history=(sms_at[6],)), US, now=late_evening)
    calls = decide(request(channel="call", address=PHONE, history=seven_attempts()), US, now=late_evening)

    assert codes(cap_last) == codes(hours_last) == ["quiet_hours", "daily_sms_cap"]
    assert cap_last.retry_at == local(NEW_YORK, 2026, 5, 6, 20, 0)  # the SMS is a day old after the hours open
    assert hours_last.retry_at == local(NEW_YORK, 2026, 5, 6, 8, 0)  # the hours open after the SMS is a day old
    assert codes(calls) == ["quiet_hours", "call_attempts"]
    assert calls.retry_at == seven_attempts()[0].at + timedelta(days=7)


ZONES_AND_RULES = [
    (NEW_YORK, US),
    (LOS_ANGELES, US),
    ("America/Phoenix", US),
    ("Pacific/Honolulu", US),
    (MANILA, PH),
    (SINGAPORE, SG),
    ("Australia/Lord_Howe", rules_for("AU")),  # half-hour daylight saving
    ("America/Santiago", rules_for("CL", {"CL": {"earliest": "00:00"}})),  # clocks change at midnight
    ("America/Havana", rules_for("CU", {"CU": {"earliest": "00:30", "latest": "01:30"}})),
]


@settings(max_examples=400, deadline=None)
# The nights the clocks change, where random instants rarely land.
@example(utc(2026, 3, 8, 4, 0), ZONES_AND_RULES[-1], "email")  # Havana: 00:30 is skipped
@example(utc(2026, 11, 1, 5, 10), ZONES_AND_RULES[-1], "email")  # Havana: 00:10 on the second pass
@example(utc(2026, 9, 6, 1, 0), ZONES_AND_RULES[-2], "sms")  # Santiago: midnight is skipped
@example(utc(2026, 4, 5, 2, 30), ZONES_AND_RULES[-2], "call")  # Santiago: 23:30 twice
@example(utc(2026, 3, 8, 11, 59, 59), ZONES_AND_RULES[0], "email")  # New York: 07:59:59 on the new clock
@example(utc(2026, 11, 1, 12, 59, 59), ZONES_AND_RULES[0], "email")  # New York: 07:59:59 on the old clock
@given(
    instant=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)),
    zone_and_rules=st.sampled_from(ZONES_AND_RULES),
    channel=st.sampled_from(["email", "sms", "call"]),
)
def test_an_allowed_contact_is_always_within_the_local_hours_and_a_retry_is_the_first_allowed_moment(
    instant, zone_and_rules, channel
):
    zone, rules = zone_and_rules
    ask = request(channel=channel, address=PHONE, time_zone=zone)
    hours_zone = ZoneInfo(rules.fixed_zone or zone)

    decision = decide(ask, rules, now=instant)

    if decision.allowed:
        assert rules.earliest <= instant.astimezone(hours_zone).time() < rules.latest
    else:
        assert decision.retry_at is not None and decision.retry_at > instant
        assert decide(ask, rules, now=decision.retry_at).allowed
        assert not decide(ask, rules, now=decision.retry_at - timedelta(seconds=1)).allowed


def test_overrides_change_only_the_values_given_for_that_country():
    overrides = {
        "US": {"earliest": "08:30", "sms_per_day": None, "allowed_roles": ["debtor"]},
        "PH": {"latest": "20:00"},
    }

    us = rules_for("us", overrides)

    assert (us.earliest, us.latest, us.sms_per_day, us.allowed_roles) == (time(8, 30), time(21), None, {"debtor"})
    assert us.calls_per_7_days == 7
    assert rules_for("SG", overrides) == SG
    assert rules_for("PH", overrides).latest == time(20) and rules_for("PH", overrides).fixed_zone == MANILA


def test_a_country_without_rules_gets_the_safe_default():
    assert rules_for("GB") == ContactRules()
    assert (ContactRules().earliest, ContactRules().latest, ContactRules().calls_per_7_days) == (time(8), time(21), 7)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"earliest": "8am"}, "Contact rule 'earliest' for US must be a time such as 08:00, not '8am'."),
        ({"latest": "24:00"}, "Contact rule 'latest' for US must be a time such as 08:00, not '24:00'."),
        ({"earliest": "21:00", "latest": "08:00"}, "Contact rules for US: contact hours must start before they end"),
        ({"fixed_zone": "Nowhere/City"}, "Contact rule 'fixed_zone' for US must be an IANA time zone"),
        ({"sms_per_day": 0}, "Contact rule 'sms_per_day' for US must be a whole number of at least 1"),
        ({"messages_per_week": True}, "Contact rule 'messages_per_week' for US must be a whole number"),
        (
            {"hours_waived_past_dpd": -1},
            "Contact rule 'hours_waived_past_dpd' for US must be a whole number of at least 0",
        ),
        ({"consent_waives_hours": "yes"}, "Contact rule 'consent_waives_hours' for US must be true or false"),
        ({"allowed_roles": "debtor"}, "Contact rule 'allowed_roles' for US must be a list of roles"),
        ({"allowed_roles": ["debtor", "neighbour"]}, "Contact rules for US: allowed roles must be some of"),
        ({"allowed_roles": []}, "Contact rules for US: allowed roles must be some of"),
        ({"opt_out_required": False}, "every email and SMS must carry an opt-out"),
        ({"quiet_on_sundays": True}, "US has no contact rule 'quiet_on_sundays'."),
    ],
)
def test_bad_overrides_are_refused_with_a_clear_message(values, expected):
    with pytest.raises(ValidationError) as error:
        rules_for("US", {"US": values})

    assert expected in str(error.value)


def test_overrides_for_a_country_must_be_named_values():
    with pytest.raises(ValidationError, match="Contact rules for US must be a set of named values"):
        rules_for("US", {"US": ["08:00"]})


def test_an_unknown_channel_and_a_naive_now_are_refused():
    with pytest.raises(ValidationError, match="'fax' is not a channel"):
        request(channel="fax")
    with pytest.raises(ValueError, match="time zone aware"):
        decide(request(), US, now=datetime(2026, 5, 5, 12))
