"""Reminder templates: the shipped texts render in every currency, unknown fields and sandbox escapes
are refused with a clear message, opt-out lines are required, SMS segments are counted at the
GSM-7/UCS-2 edges, languages fall back to English, and merge values are data, never template code."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape

from core.errors import ValidationError
from core.templates import (
    CHANNELS,
    DEFAULT_TEMPLATES,
    MAX_SMS_SEGMENTS,
    STAGES,
    MergeContext,
    Template,
    TemplateError,
    pick_template,
    render,
    sample_context,
    sms_segments,
    validate_template,
)

# No example database: hypothesis would write it into the working directory.
_quiet = settings(database=None, deadline=None)

# What sample_context() owes per currency (12,500.50 + 3,480.75), as each channel shows it.
EMAIL_TOTALS = {"PHP": "₱15,981.25", "USD": "$15,981.25", "JPY": "¥15,982"}
SMS_TOTALS = {"PHP": "PHP 15,981.25", "USD": "USD 15,981.25", "JPY": "JPY 15,982"}


def template_id(template: Template) -> str:
    return f"{template.stage}-{template.channel}-{template.language}"


def letter(body: str) -> Template:
    return Template(channel="letter", language="en", body=body)


def with_opt_out(channel: str, body: str) -> Template:
    return Template(channel=channel, language="en", subject="Reminder", body=body + "\n{{ opt_out }}")


# The shipped defaults


def test_defaults_cover_every_stage_with_email_and_sms_in_two_languages_and_letter_and_call_in_english() -> None:
    kinds = {(t.stage, t.channel, t.language) for t in DEFAULT_TEMPLATES}
    for stage in STAGES:
        assert {(stage, "email", "en"), (stage, "email", "fil"), (stage, "sms", "en"), (stage, "sms", "fil")} <= kinds
        assert {(stage, "letter", "en"), (stage, "call", "en")} <= kinds
    assert len(kinds) == len(DEFAULT_TEMPLATES)


@pytest.mark.parametrize("template", DEFAULT_TEMPLATES, ids=template_id)
def test_every_default_template_passes_validation(template: Template) -> None:
    validate_template(template)


@pytest.mark.parametrize("currency", ["PHP", "USD", "JPY"])
@pytest.mark.parametrize("template", DEFAULT_TEMPLATES, ids=template_id)
def test_every_default_template_renders_totals_in_the_currency_owed(template: Template, currency: str) -> None:
    rendered = render(template, sample_context((currency,)))

    totals = SMS_TOTALS if template.channel == "sms" else EMAIL_TOTALS
    assert totals[currency] in rendered.text
    assert "https://pay.example.com/p/SAMPLE" in rendered.text
    assert "{{" not in rendered.text and "{%" not in rendered.text
    if template.channel != "sms":
        assert "Santos Hardware Inc." in rendered.text
        assert "INV-1001" in rendered.text
        assert "Bank transfer in " + currency in rendered.text


@pytest.mark.parametrize("template", DEFAULT_TEMPLATES, ids=template_id)
def test_jpy_amounts_are_shown_without_decimals(template: Template) -> None:
    rendered = render(template, sample_context(("JPY",)))

    assert "15,982.00" not in rendered.text
    assert "12,501.00" not in rendered.text


@pytest.mark.parametrize("template", DEFAULT_TEMPLATES, ids=template_id)
def test_two_currencies_are_totalled_separately_and_never_summed(template: Template) -> None:
    rendered = render(template, sample_context(("PHP", "USD")))

    totals = SMS_TOTALS if template.channel == "sms" else EMAIL_TOTALS
    assert totals["PHP"] in rendered.text
    assert totals["USD"] in rendered.text
    assert "31,962.50" not in rendered.text


@pytest.mark.parametrize("template", DEFAULT_TEMPLATES, ids=template_id)
def test_every_default_template_renders_for_an_account_without_promise_or_plan(template: Template) -> None:
    rendered = render(template, sample_context(minimal=True))

    assert "None" not in rendered.text
    assert "\n\n\n" not in rendered.text


@pytest.mark.parametrize("template", [t for t in DEFAULT_TEMPLATES if t.channel == "email"], ids=template_id)
def test_default_emails_have_a_subject_and_an_html_body_with_the_opt_out_line(template: Template) -> None:
    rendered = render(template, sample_context())

    assert rendered.subject
    assert rendered.html is not None
    assert "<p>Reply STOP to stop these reminders.</p>" in rendered.html
    assert '<a href="https://pay.example.com/p/SAMPLE">' in rendered.html


@pytest.mark.parametrize("template", [t for t in DEFAULT_TEMPLATES if t.channel == "sms"], ids=template_id)
def test_default_sms_texts_stay_in_gsm_7_and_within_two_segments(template: Template) -> None:
    rendered = render(template, sample_context(("PHP", "USD")))

    assert rendered.sms is not None
    assert rendered.sms.encoding == "GSM-7"
    assert rendered.sms.segments <= 2


@pytest.mark.parametrize("word", ["jail", "arrest", "police", "criminal", "kulong", "pulis", "shame", "hiya"])
def test_default_texts_hold_no_threatening_or_shaming_words(word: str) -> None:
    for template in DEFAULT_TEMPLATES:
        assert word not in (template.subject + template.body).lower()


def test_default_call_scripts_forbid_telling_a_third_party_about_the_debt() -> None:
    for template in DEFAULT_TEMPLATES:
        if template.channel == "call":
            assert "If anyone else answers, do not mention the account" in template.body


# Unknown fields


def test_misspelled_field_names_the_field_and_what_exists_instead() -> None:
    with pytest.raises(
        TemplateError, match=r"missing field \(line 2\).*'customer\.nmae'.*customer has: name, ref, kind"
    ):
        render(letter("Dear customer,\n{{ customer.nmae }}"), sample_context())


def test_unknown_top_level_field_lists_the_merge_fields() -> None:
    with pytest.raises(TemplateError, match="unknown merge field 'custmer'; the fields are: customer, contact"):
        render(letter("{{ custmer.name }}"), sample_context())


def test_misspelled_field_inside_a_loop_names_the_record() -> None:
    with pytest.raises(TemplateError, match="'invoice.nubmer'.*invoice has: number"):
        render(letter("{% for invoice in invoices %}{{ invoice.nubmer }}{% endfor %}"), sample_context())


def test_unguarded_promise_field_is_refused_by_validation() -> None:
    template = with_opt_out("email", "Please pay {{ promise.amount }}.")

    render(template, sample_context())  # fine while the sample has a promise
    with pytest.raises(TemplateError, match="empty value.*no promise, plan or reply-by date"):
        validate_template(template)


def test_template_that_does_not_parse_is_refused_with_its_line() -> None:
    with pytest.raises(TemplateError, match=r"The body does not parse \(line 2\)"):
        validate_template(with_opt_out("email", "Hello\n{% if %}\nworld{% endif %}"))


def test_error_while_rendering_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match="failed while rendering"):
        render(letter("{{ 1 + customer.name }}"), sample_context())


def test_template_error_is_a_validation_error_a_page_can_show() -> None:
    assert issubclass(TemplateError, ValidationError)


# The sandbox


@pytest.mark.parametrize(
    "payload",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum.__globals__['os'].popen('id').read() }}",
        "{{ ''|attr('__class__') }}",
        "{{ '{0.__class__}'.format(1) }}",
        "{{ self._TemplateReference__context }}",
        "{{ invoices.append(1) }}",
        "{% set _ = customer.update(name='x') %}",
    ],
)
def test_sandbox_escapes_are_refused_and_reported_as_such(payload: str) -> None:
    with pytest.raises(TemplateError, match="refused by the template sandbox"):
        render(letter(payload), sample_context())
    with pytest.raises(TemplateError, match="refused by the template sandbox"):
        validate_template(with_opt_out("email", payload))


def test_sandbox_escape_in_the_subject_is_refused_too() -> None:
    template = Template(channel="email", language="en", subject="{{ ''.__class__ }}", body="{{ opt_out }}")

    with pytest.raises(TemplateError, match="The subject was refused by the template sandbox"):
        render(template, sample_context())


# Opt-out line


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_email_or_sms_without_the_opt_out_line_is_refused(channel: str) -> None:
    template = Template(channel=channel, language="en", subject="Reminder", body="Please pay {{ portal_link }}")

    with pytest.raises(TemplateError, match=r"must carry the opt-out line: add \{\{ opt_out \}\}"):
        validate_template(template)


def test_opt_out_hidden_behind_a_condition_that_never_holds_is_refused() -> None:
    template = Template(channel="sms", language="en", body="Pay now{% if false %} {{ opt_out }}{% endif %}")

    with pytest.raises(TemplateError, match="opt-out"):
        validate_template(template)


def test_email_with_its_own_html_body_needs_the_opt_out_line_there_too() -> None:
    template = Template(channel="email", language="en", subject="Hi", body="{{ opt_out }}", html="<p>Pay</p>")

    with pytest.raises(TemplateError, match="and the HTML body"):
        validate_template(template)


@pytest.mark.parametrize("channel", ["letter", "call"])
def test_letter_or_call_script_without_opt_out_is_allowed(channel: str) -> None:
    validate_template(Template(channel=channel, language="en", body="Please pay {{ totals[0].amount }}."))


def test_email_without_a_subject_is_refused() -> None:
    with pytest.raises(TemplateError, match="needs a subject"):
        validate_template(Template(channel="email", language="en", body="{{ opt_out }}"))


def test_sms_longer_than_the_segment_limit_is_refused() -> None:
    template = Template(channel="sms", language="en", body="x" * 153 * MAX_SMS_SEGMENTS + "\n{{ opt_out }}")

    with pytest.raises(TemplateError, match=f"segments .*GSM-7.* the limit is {MAX_SMS_SEGMENTS}"):
        validate_template(template)


def test_sms_pushed_into_ucs_2_says_why_it_is_too_long() -> None:
    template = Template(channel="sms", language="en", body="₱" + "x" * 67 * MAX_SMS_SEGMENTS + "\n{{ opt_out }}")

    with pytest.raises(TemplateError, match="UCS-2.*forces UCS-2"):
        validate_template(template)


# Template construction


def test_unknown_channel_is_refused() -> None:
    with pytest.raises(TemplateError, match="Unknown channel 'fax'"):
        Template(channel="fax", language="en", body="x")


def test_html_body_is_for_email_only() -> None:
    with pytest.raises(TemplateError, match="Only an email template"):
        Template(channel="sms", language="en", body="x", html="<p>x</p>")


def test_language_code_is_normalised() -> None:
    assert Template(channel="letter", language=" FIL_PH ", body="x").language == "fil-ph"


def test_channels_are_the_four_dunning_channels() -> None:
    assert CHANNELS == ("email", "sms", "letter", "call")


# SMS segments


@pytest.mark.parametrize(
    ("text", "encoding", "characters", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("ñ" * 160, "GSM-7", 160, 1),
        ("€" * 80, "GSM-7", 160, 1),
        ("€" * 81, "GSM-7", 162, 2),
        ("a" * 159 + "^", "GSM-7", 161, 2),
        ("{}[]~|\\", "GSM-7", 14, 1),
        ("₱" + "a" * 69, "UCS-2", 70, 1),
        ("₱" + "a" * 70, "UCS-2", 71, 2),
        ("₱" + "a" * 133, "UCS-2", 134, 2),
        ("₱" + "a" * 134, "UCS-2", 135, 3),
        ("😀" * 35, "UCS-2", 70, 1),
        ("😀" * 36, "UCS-2", 72, 2),
    ],
    ids=[
        "empty",
        "gsm-160",
        "gsm-161",
        "gsm-306",
        "gsm-307",
        "n-tilde-is-gsm",
        "euro-80-counts-double",
        "euro-81",
        "caret-tips-over",
        "extension-chars",
        "peso-70",
        "peso-71",
        "ucs-134",
        "ucs-135",
        "emoji-35",
        "emoji-36",
    ],
)
def test_sms_segments_at_the_gsm_7_and_ucs_2_boundaries(
    text: str, encoding: str, characters: int, segments: int
) -> None:
    info = sms_segments(text)

    assert (info.encoding, info.characters, info.segments) == (encoding, characters, segments)


def test_escaped_character_is_never_split_across_segments() -> None:
    # 306 septets would fit in two segments of 153, but the euro sign cannot straddle the first boundary.
    assert sms_segments("a" * 152 + "€" + "a" * 152).segments == 3


def test_emoji_is_never_split_across_segments() -> None:
    assert sms_segments("a" * 66 + "😀" + "a" * 66).segments == 3


# Language fallback


@pytest.mark.parametrize(
    ("channel", "language", "expected"),
    [
        ("email", "fil", "fil"),
        ("sms", "FIL", "fil"),
        ("email", "fil-PH", "fil"),
        ("email", "tl", "fil"),
        ("email", "en", "en"),
        ("letter", "fil", "en"),
        ("call", "fil", "en"),
        ("email", "xx", "en"),
        ("email", "", "en"),
    ],
)
def test_template_in_the_contacts_language_else_english(channel: str, language: str, expected: str) -> None:
    template = pick_template(DEFAULT_TEMPLATES, channel, language=language, stage="firm")

    assert (template.channel, template.stage, template.language) == (channel, "firm", expected)


def test_no_template_in_the_language_or_english_is_refused() -> None:
    templates = [Template(channel="email", language="fil", subject="x", body="x", stage="reminder")]

    with pytest.raises(TemplateError, match="No email template for stage 'reminder' in language 'ja' or in English"):
        pick_template(templates, "email", language="ja", stage="reminder")


def test_several_matching_templates_without_a_stage_are_refused() -> None:
    with pytest.raises(TemplateError, match="name the stage"):
        pick_template(DEFAULT_TEMPLATES, "email", language="en")


# Values are data, never template code


def test_html_body_escapes_a_customer_name_with_markup() -> None:
    context = dataclasses.replace(sample_context(), customer_name="<script>alert(1)</script>")
    template = pick_template(DEFAULT_TEMPLATES, "email", language="en", stage="reminder")

    rendered = render(template, context)

    assert rendered.html is not None
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "<script>alert(1)</script>" in rendered.text  # plain text stays as typed


def test_own_html_body_is_autoescaped() -> None:
    context = dataclasses.replace(sample_context(), customer_name='"><img src=x onerror=alert(1)>')
    template = Template(
        channel="email", language="en", subject="Hi", body="{{ opt_out }}", html='<p title="{{ customer.name }}">x</p>'
    )

    rendered = render(template, context)

    assert rendered.html == '<p title="&#34;&gt;&lt;img src=x onerror=alert(1)&gt;">x</p>'


def test_template_syntax_inside_a_value_is_printed_not_run() -> None:
    context = dataclasses.replace(sample_context(), customer_name="{{ 7 * 7 }}{% for x in range(3) %}x{% endfor %}")

    rendered = render(letter("{{ customer.name }}"), context)

    assert rendered.text == "{{ 7 * 7 }}{% for x in range(3) %}x{% endfor %}"


def test_a_line_break_in_a_value_cannot_add_a_header_to_the_subject() -> None:
    context = dataclasses.replace(sample_context(), customer_name="ACME\r\nBcc: everyone@example.com")
    template = pick_template(DEFAULT_TEMPLATES, "email", language="en", stage="reminder")

    rendered = render(template, context)

    assert "\n" not in rendered.subject and "\r" not in rendered.subject


printable = st.text(
    st.characters(exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"), include_characters=" "),
    max_size=60,
)


@_quiet
@given(value=printable)
def test_any_printable_text_renders_as_a_value(value: str) -> None:
    context: MergeContext = dataclasses.replace(
        sample_context(), customer_name=value, contact_name=value, customer_ref=value, portal_link=value
    )
    for template in (
        pick_template(DEFAULT_TEMPLATES, "email", language="en", stage="final_notice"),
        pick_template(DEFAULT_TEMPLATES, "sms", language="fil", stage="reminder"),
        letter("[{{ customer.name }}]"),
    ):
        rendered = render(template, context)

        assert value in rendered.text
        assert rendered.html is None or str(escape(value)) in rendered.html or "http" in value
