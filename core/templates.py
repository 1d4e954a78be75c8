"""Reminder templates: sandboxed Jinja2 rendering of dunning messages, and SMS segment counting."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache, lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_decimal
from jinja2 import StrictUndefined
from jinja2 import Template as JinjaTemplate
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import TemplateError as JinjaError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing
from markupsafe import escape

from core.aging import days_past_due
from core.default_templates import DEFAULT_TEXTS
from core.errors import TemplateError
from core.money import Money, minor_unit

CHANNELS = ("email", "sms", "letter", "call")
STAGES = ("reminder", "firm", "final_notice", "legal_handover")
OPT_OUT_CHANNELS = frozenset({"email", "sms"})
FALLBACK_LANGUAGE = "en"
MAX_SMS_SEGMENTS = 6
_LANGUAGE_ALIASES = {"tl": "fil"}  # Tagalog contacts get the Filipino template

MERGE_FIELDS: Mapping[str, str] = {
    "customer": "name, ref, kind (person or company)",
    "contact": "name, role (may be empty: fall back to customer.name)",
    "invoices": "list of: number, issue_date, due_date, amount, days_past_due",
    "totals": "list of: currency, amount (one per currency, never summed across currencies)",
    "oldest_due_date": "due date of the oldest invoice listed",
    "promise": "amount, date, or empty when there is no pending promise",
    "plan": "next_date, next_amount, overdue_amount, overdue_count, or empty when there is no plan",
    "payment_instructions": "list of: currency, text (only for the currencies owed)",
    "portal_link": "the debtor's link to the payment portal",
    "sender": "the company sending the message",
    "opt_out": "how to stop these messages (required in email and SMS)",
    "today": "the date of the message",
    "respond_by": "the date to pay or reply by, or empty",
    "agency": "name, licence (e.g. Singapore's Debt Collection Act licence), or empty when not an agency",
}


@dataclass(frozen=True)
class Template:
    """One message text for a channel and language; `html` is an optional email-only HTML body."""

    channel: str
    language: str
    body: str
    subject: str = ""
    html: str | None = None
    stage: str = ""

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise TemplateError(f"Unknown channel {self.channel!r}: use one of {', '.join(CHANNELS)}.")
        language = _normal_language(self.language)
        if not language:
            raise TemplateError("A template needs a language code such as 'en' or 'fil'.")
        if self.html is not None and self.channel != "email":
            raise TemplateError("Only an email template has an HTML body.")
        object.__setattr__(self, "language", language)


@dataclass(frozen=True)
class InvoiceLine:
    number: str
    issued_on: date
    due_on: date
    open_amount: Money


@dataclass(frozen=True)
class PromiseInfo:
    amount: Money
    due_on: date


@dataclass(frozen=True)
class AgencyInfo:
    """A collection agency's name and licence, as the law where it collects wants them shown."""

    name: str
    licence_number: str
    licence_authority: str = ""

    @property
    def licence(self) -> str:
        where = f", {self.licence_authority}" if self.licence_authority else ""
        return f"Licence no. {self.licence_number}{where}"


@dataclass(frozen=True)
class PlanInfo:
    next_due_on: date
    next_amount: Money
    overdue_amount: Money | None = None
    overdue_instalments: int = 0


@dataclass(frozen=True, kw_only=True)
class MergeContext:
    """Plain values a message is rendered from; formatted per language at render time."""

    customer_name: str
    customer_ref: str
    as_of: date
    invoices: tuple[InvoiceLine, ...]
    sender: str
    portal_link: str
    opt_out: str
    customer_kind: str = "company"
    contact_name: str = ""
    contact_role: str = ""
    payment_instructions: Mapping[str, str] = field(default_factory=dict)
    promise: PromiseInfo | None = None
    plan: PlanInfo | None = None
    respond_by: date | None = None
    agency: AgencyInfo | None = None


@dataclass(frozen=True)
class SmsInfo:
    """`characters` counts GSM-7 septets (extension characters count two) or UTF-16 code units."""

    encoding: str
    characters: int
    segments: int


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None = None
    sms: SmsInfo | None = None


class _Record(dict[str, Any]):
    """A group of merge fields; its label names it in error messages (the sandbox hides `_label`)."""

    __slots__ = ("_label",)

    def __init__(self, label: str, **values: Any) -> None:
        super().__init__(values)
        self._label = label


class _StrictField(StrictUndefined):
    """StrictUndefined whose message names the misspelled field and what exists instead."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        name, obj = self._undefined_name, self._undefined_obj
        if self._undefined_hint:  # the sandbox's own "access to attribute ... is unsafe"
            return self._undefined_hint
        if obj is missing:
            return f"unknown merge field {name!r}; the fields are: {', '.join(MERGE_FIELDS)}."
        if isinstance(obj, _Record):
            return f"unknown merge field '{obj._label}.{name}'; {obj._label} has: {', '.join(obj)}."
        if obj is None:
            return f"{name!r} was read from an empty value (no promise or plan?); guard it with {{% if ... %}}."
        return f"a {type(obj).__name__} value has no field {name!r}."


@cache
def _environment(html: bool) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(autoescape=html, undefined=_StrictField, trim_blocks=True, lstrip_blocks=True)


@lru_cache(maxsize=512)
def _compile(source: str, html: bool) -> JinjaTemplate:
    return _environment(html).from_string(source)


def _render_part(source: str, values: Mapping[str, object], *, part: str, html: bool = False) -> str:
    try:
        return _compile(source, html).render(values)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"The {part} does not parse (line {exc.lineno}): {exc.message}") from exc
    except SecurityError as exc:
        raise TemplateError(f"The {part} was refused by the template sandbox{_at(exc)}: {exc}") from exc
    except UndefinedError as exc:
        raise TemplateError(f"The {part} refers to a missing field{_at(exc)}: {exc}") from exc
    except (JinjaError, ArithmeticError, LookupError, TypeError, ValueError) as exc:
        raise TemplateError(f"The {part} failed while rendering{_at(exc)}: {exc}") from exc


def _at(exc: BaseException) -> str:
    """' (line N)' from the template frame Jinja puts in the traceback, if there is one."""
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" (line {line})" if line else ""


def render(template: Template, context: MergeContext) -> Rendered:
    """Render subject, plain text, the email's HTML body and the SMS segment count."""
    values = merge_fields(context, channel=template.channel, language=template.language)
    subject = " ".join(_render_part(template.subject, values, part="subject").split())  # one header line
    text = _tidy(_render_part(template.body, values, part="body"))
    html = None
    if template.channel == "email":
        html = _render_part(template.html, values, part="HTML body", html=True) if template.html else _to_html(text)
    sms = sms_segments(text) if template.channel == "sms" else None
    return Rendered(subject=subject, text=text, html=html, sms=sms)


def merge_fields(context: MergeContext, *, channel: str, language: str) -> dict[str, object]:
    """What a template sees: only strings, numbers and lists of them, formatted for the language."""
    locale = _locale(language)

    def amount(money: Money) -> str:
        return _sms_amount(money, locale) if channel == "sms" else money.format(locale)

    def day(value: date) -> str:
        return _long_date(value, locale)

    totals: dict[str, Money] = {}  # one total per currency: amounts in different currencies never add up
    for line in context.invoices:
        code = line.open_amount.currency
        totals[code] = totals.get(code, Money.zero(code)) + line.open_amount
    currencies = list(totals)  # in the order the invoices list them
    promise, plan = context.promise, context.plan
    return {
        "customer": _Record(
            "customer", name=context.customer_name, ref=context.customer_ref, kind=context.customer_kind
        ),
        "contact": _Record("contact", name=context.contact_name, role=context.contact_role),
        "invoices": [
            _Record(
                "invoice",
                number=line.number,
                issue_date=day(line.issued_on),
                due_date=day(line.due_on),
                amount=amount(line.open_amount),
                days_past_due=days_past_due(line.due_on, context.as_of),
            )
            for line in context.invoices
        ],
        "totals": [_Record("total", currency=code, amount=amount(totals[code])) for code in currencies],
        "oldest_due_date": day(min(line.due_on for line in context.invoices)) if context.invoices else "",
        "promise": _Record("promise", amount=amount(promise.amount), date=day(promise.due_on)) if promise else None,
        "plan": _Record(
            "plan",
            next_date=day(plan.next_due_on),
            next_amount=amount(plan.next_amount),
            overdue_amount=amount(plan.overdue_amount) if plan.overdue_amount else "",
            overdue_count=plan.overdue_instalments,
        )
        if plan
        else None,
        "payment_instructions": [
            _Record("instruction", currency=code, text=context.payment_instructions[code])
            for code in currencies
            if code in context.payment_instructions
        ],
        "portal_link": context.portal_link,
        "sender": context.sender,
        "opt_out": context.opt_out,
        "today": day(context.as_of),
        "respond_by": day(context.respond_by) if context.respond_by else "",
        "agency": _Record("agency", name=context.agency.name, licence=context.agency.licence)
        if context.agency
        else None,
    }


@lru_cache(maxsize=4096)
def _long_date(value: date, locale: str) -> str:
    return format_date(value, format="long", locale=locale)


def _sms_amount(money: Money, locale: str) -> str:
    """'PHP 1,234.50': the ISO code keeps an SMS in GSM-7 (a symbol such as ₱ would force UCS-2)."""
    digits = minor_unit(money.currency)
    number = format_decimal(money.amount, format="#,##0" + ("." + "0" * digits if digits else ""), locale=locale)
    return f"{money.currency} " + "".join(" " if ch.isspace() else ch for ch in number)


def _tidy(text: str) -> str:
    """Strip trailing spaces and collapse the blank lines left by sections that were left out."""
    lines = "\n".join(line.rstrip() for line in text.strip().splitlines())
    return re.sub(r"\n{3,}", "\n\n", lines)


_URL = re.compile(r"https?://[^\s<>\"']+")


def _to_html(text: str) -> str:
    """Plain text to escaped HTML: paragraphs, '- ' lines as lists, http(s) links made clickable."""

    def inline(line: str) -> str:
        return _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', str(escape(line)))

    parts: list[str] = []
    for block in text.split("\n\n"):
        run: list[str] = []
        lines = block.split("\n")
        for index, line in enumerate(lines):
            run.append(line)
            is_item = line.startswith("- ")
            if index + 1 == len(lines) or lines[index + 1].startswith("- ") != is_item:
                if is_item:
                    parts.append("<ul>" + "".join(f"<li>{inline(item[2:])}</li>" for item in run) + "</ul>")
                else:
                    parts.append("<p>" + "<br>\n".join(inline(item) for item in run) + "</p>")
                run = []
    return "\n".join(parts)


def validate_template(template: Template) -> None:
    """Refuse a template that does not parse, misnames a field, lacks its opt-out, or is a too-long SMS."""
    if not template.body.strip():
        raise TemplateError("The template body is empty.")
    if template.channel == "email" and not template.subject.strip():
        raise TemplateError("An email template needs a subject.")
    samples = (
        ("a sample account", sample_context()),
        ("an account with no promise, plan or reply-by date", sample_context(minimal=True)),
        ("an account owing in two currencies", sample_context(("PHP", "USD"))),
    )
    for label, context in samples:
        try:
            rendered = render(template, context)
        except TemplateError as exc:
            raise TemplateError(f"{exc} (checked against {label})") from exc
        if template.channel in OPT_OUT_CHANNELS and (
            context.opt_out not in rendered.text
            or (rendered.html and str(escape(context.opt_out)) not in rendered.html)
        ):
            raise TemplateError(
                f"An {template.channel} template must carry the opt-out line: add {{{{ opt_out }}}} to the body"
                + (" and the HTML body." if template.html else ".")
            )
        if rendered.sms and rendered.sms.segments > MAX_SMS_SEGMENTS:
            info = rendered.sms
            hint = (
                " A character outside GSM-7 (such as ₱ or an emoji) forces UCS-2." if info.encoding == "UCS-2" else ""
            )
            raise TemplateError(
                f"This SMS takes {info.segments} segments ({info.characters} {info.encoding} characters) for {label};"
                f" the limit is {MAX_SMS_SEGMENTS}.{hint}"
            )


_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = frozenset("\f^{}\\[~]|€")  # sent as escape + character: two septets each


def sms_segments(text: str) -> SmsInfo:
    """Encoding, length and segment count of an SMS (GSM 03.38: 160/153 per segment, UCS-2: 70/67)."""
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENSION for ch in text):
        return _count("GSM-7", [2 if ch in _GSM_EXTENSION else 1 for ch in text], single=160, part=153)
    return _count("UCS-2", [2 if ord(ch) > 0xFFFF else 1 for ch in text], single=70, part=67)


def _count(encoding: str, costs: list[int], *, single: int, part: int) -> SmsInfo:
    total = sum(costs)
    if total <= single:
        return SmsInfo(encoding, total, 1 if total else 0)
    segments, used = 1, 0
    for cost in costs:  # an escaped character or a surrogate pair is never split across segments
        if used + cost > part:
            segments, used = segments + 1, 0
        used += cost
    return SmsInfo(encoding, total, segments)


def pick_template(templates: Iterable[Template], channel: str, *, language: str, stage: str | None = None) -> Template:
    """The template in the contact's language, else in English; raises TemplateError if neither exists."""
    candidates = [t for t in templates if t.channel == channel and (stage is None or t.stage == stage)]
    where = f"{channel} template" + (f" for stage {stage!r}" if stage else "")
    for code in _language_chain(language):
        found = [t for t in candidates if t.language == code]
        if len(found) > 1:
            raise TemplateError(f"{len(found)} {where}s match language {code!r}; name the stage.")
        if found:
            return found[0]
    raise TemplateError(f"No {where} in language {language!r} or in English.")


def _normal_language(language: str) -> str:
    return language.strip().lower().replace("_", "-")


def _language_chain(language: str) -> list[str]:
    code = _normal_language(language) or FALLBACK_LANGUAGE
    base = code.split("-")[0]
    return list(dict.fromkeys([code, base, _LANGUAGE_ALIASES.get(base, base), FALLBACK_LANGUAGE]))


@cache
def _locale(language: str) -> str:
    for code in _language_chain(language):
        try:
            return str(Locale.parse(code.split("-")[0]))
        except (UnknownLocaleError, ValueError, TypeError):
            continue
    return FALLBACK_LANGUAGE


def sample_context(currencies: Sequence[str] = ("PHP",), *, minimal: bool = False) -> MergeContext:
    """A made-up account for previews and validation; `minimal` leaves out promise, plan and reply-by."""
    if not currencies:
        raise ValueError("A sample needs at least one currency.")
    as_of, first = date(2025, 6, 30), currencies[0]
    invoices: list[InvoiceLine] = []
    for index, code in enumerate(currencies):
        invoices.append(
            InvoiceLine(f"INV-{1001 + 2 * index}", date(2025, 4, 1), date(2025, 5, 1), Money("12500.50", code))
        )
        invoices.append(
            InvoiceLine(f"INV-{1002 + 2 * index}", date(2025, 5, 15), date(2025, 6, 14), Money("3480.75", code))
        )
    return MergeContext(
        customer_name="Santos Hardware Inc.",
        customer_ref="C-1042",
        customer_kind="company",
        contact_name="Maria Santos",
        contact_role="billing",
        as_of=as_of,
        invoices=tuple(invoices),
        sender="Recoup Demo Co.",
        portal_link="https://pay.example.com/p/SAMPLE",
        opt_out="Reply STOP to stop these reminders.",
        payment_instructions={
            code: f"Bank transfer in {code} to Recoup Demo Co., account 0012-3456-7890, quoting C-1042."
            for code in currencies
        },
        promise=None if minimal else PromiseInfo(Money("5000", first), as_of + timedelta(days=7)),
        plan=None if minimal else PlanInfo(as_of + timedelta(days=15), Money("2500", first), Money("2500", first), 1),
        respond_by=None if minimal else as_of + timedelta(days=14),
    )


# The shipped texts (core/default_templates.py): four stages, email and SMS in English and Filipino,
# letters and call scripts in English.
DEFAULT_TEMPLATES: tuple[Template, ...] = tuple(Template(**text) for text in DEFAULT_TEXTS)
