"""The reminder texts Recoup ships, as plain data (core.templates builds DEFAULT_TEMPLATES from them):
email and SMS in English and Filipino, letters and call scripts in English.

Wording follows PH SEC MC 18 s.2019 and the FDCPA: courteous, no threats, no shaming, nothing said to
third parties, disputes and hardship invited. The final notice and the legal handover say the account
may or will be referred to an agency or counsel: send them only when the creditor really intends to.
"""

# ruff: noqa: E501
# One paragraph per line, so the HTML email built from the plain text never breaks mid-sentence.

from __future__ import annotations

_DEBTOR = "{{ contact.name or customer.name }}"
_OPT_OUT = "\n{{ opt_out }}\n"
_AMOUNTS = '{{ totals|map(attribute="amount")|join(", ") }}'
_BY = "{% if respond_by %} by {{ respond_by }}{% endif %}"
_BAGO = "{% if respond_by %} bago o sa {{ respond_by }}{% endif %}"

# English building blocks, shared by email, letter and call script.

_EN_OPEN = """{% for invoice in invoices %}
- Invoice {{ invoice.number }} of {{ invoice.issue_date }}, due {{ invoice.due_date }}: {{ invoice.amount }}{% if invoice.days_past_due > 0 %} (days past due: {{ invoice.days_past_due }}){% endif %}.
{% endfor %}

{% for total in totals %}
Total in {{ total.currency }}: {{ total.amount }}
{% endfor %}

{% if promise %}
Thank you for your promise to pay {{ promise.amount }} by {{ promise.date }}.
{% endif %}
{% if plan %}
Under your payment plan, the next instalment of {{ plan.next_amount }} is due on {{ plan.next_date }}.
{% if plan.overdue_count %}
Overdue under the plan: {{ plan.overdue_amount }} (missed instalments: {{ plan.overdue_count }}).
{% endif %}
{% endif %}
"""

_EN_PAY = """{% if payment_instructions %}
How to pay:
{% for instruction in payment_instructions %}
- {{ instruction.currency }}: {{ instruction.text }}
{% endfor %}
{% endif %}
"""

_EN_PORTAL = """You can view your invoices, pay, choose a payment date or tell us about a problem here:
{{ portal_link }}
"""

_EN_DISPUTE = "If you believe any of these invoices is wrong or has already been paid, please let us know with the details and we will pause our reminders for it while we check."

_EN = {
    "reminder": (
        "Payment reminder for {{ customer.name }} ({{ customer.ref }})",
        "This is a friendly reminder that the following invoices for {{ customer.name }} (customer reference {{ customer.ref }}) are past due:",
        "If you have already paid, thank you, and please disregard this message. If anything on these invoices looks wrong, please let us know and we will look into it.",
    ),
    "firm": (
        "Second reminder: overdue balance for {{ customer.name }} ({{ customer.ref }})",
        "We wrote to you earlier about the invoices below for {{ customer.name }} (customer reference {{ customer.ref }}), and our records show that they are still unpaid:",
        f"Please pay the balance{_BY}, or contact us to agree on a payment date or a payment plan. If you are having difficulty paying, please tell us: we would rather find an arrangement that works for you.\n\n{_EN_DISPUTE}",
    ),
    "final_notice": (
        "Final notice: overdue balance for {{ customer.name }} ({{ customer.ref }})",
        "Despite our earlier reminders, the following invoices for {{ customer.name }} (customer reference {{ customer.ref }}) remain unpaid:",
        "Please pay the balance or contact us {% if respond_by %}by {{ respond_by }}{% else %}as soon as possible{% endif %}. If the account is still unresolved after that, we may refer it to a collection agency or to our legal counsel. We would much rather settle this with you directly, and we are ready to discuss a payment plan if that would help.\n\n"
        + _EN_DISPUTE,
    ),
    "legal_handover": (
        "Notice of referral: account of {{ customer.name }} ({{ customer.ref }})",
        "We have not been able to resolve the overdue balance on the account of {{ customer.name }} (customer reference {{ customer.ref }}):",
        "This is to let you know that we intend to refer the account to a collection agency or to our legal counsel {% if respond_by %}on or after {{ respond_by }}{% else %}in the coming days{% endif %}. Until then you can still pay the balance or agree a payment plan with us, and the account will not be referred. If it is referred, the agency or our counsel will contact you about it directly.\n\n"
        + _EN_DISPUTE,
    ),
}

# Filipino building blocks.

_FIL_OPEN = """{% for invoice in invoices %}
- Invoice {{ invoice.number }} na may petsang {{ invoice.issue_date }}, takdang petsa ng bayad {{ invoice.due_date }}: {{ invoice.amount }}{% if invoice.days_past_due > 0 %} ({{ invoice.days_past_due }} araw nang lampas sa takdang petsa){% endif %}.
{% endfor %}

{% for total in totals %}
Kabuuan sa {{ total.currency }}: {{ total.amount }}
{% endfor %}

{% if promise %}
Salamat po sa inyong pangakong magbayad ng {{ promise.amount }} bago o sa {{ promise.date }}.
{% endif %}
{% if plan %}
Sa inyong payment plan, ang susunod na hulog na {{ plan.next_amount }} ay dapat bayaran sa {{ plan.next_date }}.
{% if plan.overdue_count %}
Hindi pa nababayaran sa plan: {{ plan.overdue_amount }} (mga hulog na hindi nabayaran: {{ plan.overdue_count }}).
{% endif %}
{% endif %}
"""

_FIL_PAY = """{% if payment_instructions %}
Paano magbayad:
{% for instruction in payment_instructions %}
- {{ instruction.currency }}: {{ instruction.text }}
{% endfor %}
{% endif %}
"""

_FIL_PORTAL = """Maaari po ninyong tingnan ang inyong mga invoice, magbayad, pumili ng petsa ng pagbabayad, o ipaalam sa amin kung may problema rito:
{{ portal_link }}
"""

_FIL_DISPUTE = "Kung sa tingin po ninyo ay mali ang alinman sa mga invoice o nabayaran na ito, ipaalam po sa amin ang mga detalye at ihihinto muna namin ang mga paalala para dito habang sinusuri namin."

_FIL = {
    "reminder": (
        "Paalala sa pagbabayad: {{ customer.name }} ({{ customer.ref }})",
        "Magalang po naming ipinapaalala na lampas na sa takdang petsa ang mga sumusunod na invoice ng {{ customer.name }} (customer reference {{ customer.ref }}):",
        "Kung nakapagbayad na po kayo, maraming salamat, at huwag na po ninyong pansinin ang mensaheng ito. Kung may mali po sa alinman sa mga invoice, ipaalam lamang po sa amin at titingnan namin.",
    ),
    "firm": (
        "Ikalawang paalala: overdue na balanse ng {{ customer.name }} ({{ customer.ref }})",
        "Sumulat na po kami tungkol sa mga invoice sa ibaba ng {{ customer.name }} (customer reference {{ customer.ref }}), at ayon sa aming talaan ay hindi pa po ito nababayaran:",
        f"Pakibayaran po ang balanse{_BAGO}, o makipag-ugnayan sa amin para magkasundo sa petsa ng pagbabayad o sa isang payment plan. Kung nahihirapan po kayong magbayad, ipaalam lamang po sa amin para makahanap tayo ng kaayusang kakayanin ninyo.\n\n{_FIL_DISPUTE}",
    ),
    "final_notice": (
        "Huling abiso: overdue na balanse ng {{ customer.name }} ({{ customer.ref }})",
        "Sa kabila po ng aming mga naunang paalala, hindi pa rin nababayaran ang mga sumusunod na invoice ng {{ customer.name }} (customer reference {{ customer.ref }}):",
        "Pakibayaran po ang balanse o makipag-ugnayan sa amin {% if respond_by %}bago o sa {{ respond_by }}{% else %}sa lalong madaling panahon{% endif %}. Kung hindi pa rin maaayos ang account pagkatapos nito, maaari naming i-refer ito sa isang collection agency o sa aming abogado. Mas nais po naming maayos ito nang direkta sa inyo, at handa kaming pag-usapan ang isang payment plan kung makatutulong ito.\n\n"
        + _FIL_DISPUTE,
    ),
    "legal_handover": (
        "Abiso ng pag-refer ng account ng {{ customer.name }} ({{ customer.ref }})",
        "Hindi pa po namin naaayos ang overdue na balanse sa account ng {{ customer.name }} (customer reference {{ customer.ref }}):",
        "Ipinapaalam po namin na balak naming i-refer ang account sa isang collection agency o sa aming abogado {% if respond_by %}sa o pagkatapos ng {{ respond_by }}{% else %}sa mga susunod na araw{% endif %}. Bago iyon, maaari pa rin po kayong magbayad o makipagkasundo sa amin sa isang payment plan, at hindi na namin ire-refer ang account. Kung mai-refer ito, ang agency o ang aming abogado ang direktang makikipag-ugnayan sa inyo tungkol dito.\n\n"
        + _FIL_DISPUTE,
    ),
}

# SMS: short, discreet (no word of agencies or counsel on a phone others may see), GSM-7 characters only.

_SMS_EN = {
    "reminder": f"{{{{ sender }}}}: Hello {_DEBTOR}, a friendly reminder that account {{{{ customer.ref }}}} has an overdue balance of {_AMOUNTS}. View or pay: {{{{ portal_link }}}}",
    "firm": f"{{{{ sender }}}}: Hello {_DEBTOR}, account {{{{ customer.ref }}}} still has an overdue balance of {_AMOUNTS}. Please pay{_BY} or contact us to agree a plan: {{{{ portal_link }}}}",
    "final_notice": f"{{{{ sender }}}}: Hello {_DEBTOR}, final notice: account {{{{ customer.ref }}}} has an overdue balance of {_AMOUNTS}. Please pay or contact us{_BY}: {{{{ portal_link }}}}",
    "legal_handover": f"{{{{ sender }}}}: Hello {_DEBTOR}, we have sent you a notice about account {{{{ customer.ref }}}} (overdue balance {_AMOUNTS}). Please pay or contact us{_BY}: {{{{ portal_link }}}}",
}

_SMS_FIL = {
    "reminder": f"{{{{ sender }}}}: Magandang araw po, {_DEBTOR}. Paalala lang po na may overdue na balanse na {_AMOUNTS} ang account {{{{ customer.ref }}}}. Tingnan o bayaran dito: {{{{ portal_link }}}}",
    "firm": f"{{{{ sender }}}}: Magandang araw po, {_DEBTOR}. Hindi pa po nababayaran ang overdue na balanse na {_AMOUNTS} ng account {{{{ customer.ref }}}}. Pakibayaran po{_BAGO} o makipag-ugnayan sa amin para sa payment plan: {{{{ portal_link }}}}",
    "final_notice": f"{{{{ sender }}}}: Magandang araw po, {_DEBTOR}. Huling paalala po ito: may overdue na balanse na {_AMOUNTS} ang account {{{{ customer.ref }}}}. Pakibayaran po o makipag-ugnayan sa amin{_BAGO}: {{{{ portal_link }}}}",
    "legal_handover": f"{{{{ sender }}}}: Magandang araw po, {_DEBTOR}. Nagpadala po kami ng abiso tungkol sa account {{{{ customer.ref }}}} (overdue na balanse: {_AMOUNTS}). Pakibayaran po o makipag-ugnayan sa amin{_BAGO}: {{{{ portal_link }}}}",
}

# Call scripts: what the collector says and must not say, per stage.

_CALL_PAY = """{% for instruction in payment_instructions %}
- {{ instruction.currency }}: {{ instruction.text }}
{% endfor %}
"""

_CALL = {
    "reminder": (
        "Reminder call",
        "I'm calling about the {{ customer.name }} account, reference {{ customer.ref }}. Our records show some invoices are past due, and I'd like to help sort them out.",
        "Ask when they expect to pay.",
    ),
    "firm": (
        "Follow-up call",
        "I'm calling about the {{ customer.name }} account, reference {{ customer.ref }}. We sent reminders about some overdue invoices and have not yet received payment.",
        f"Ask them to pay{_BY}, or to agree a payment date. If they are having difficulty paying, offer a payment plan.",
    ),
    "final_notice": (
        "Final notice call",
        "I'm calling about the {{ customer.name }} account, reference {{ customer.ref }}. We have sent a final notice about the overdue balance.",
        f"Explain that if the balance is not paid or an arrangement agreed{_BY}, the account may be referred to a collection agency or to our legal counsel. Say it once, calmly, as information and never as a threat.",
    ),
    "legal_handover": (
        "Referral notice call",
        "I'm calling about the {{ customer.name }} account, reference {{ customer.ref }}. We have written to let you know that we intend to refer the account for collection.",
        "Explain that the account will be referred{% if respond_by %} on or after {{ respond_by }}{% endif %} unless the balance is paid or a payment plan agreed before then, and that after a referral the agency or our counsel will contact them directly.",
    ),
}

_CALL_SCRIPT = """{title}: {{{{ customer.name }}}}, customer reference {{{{ customer.ref }}}}

Before you dial: check the account for a hold, a dispute or a do-not-contact flag, and call only within the permitted hours.

1. Ask to speak with {debtor}. Say you are calling from {{{{ sender }}}} and give your name.
2. If anyone else answers, do not mention the account, any debt or any amount. Ask when {debtor} can be reached, thank them and end the call.
3. Once you are speaking with {debtor}, confirm who they are (for example with the customer reference), then say: "{line}"
4. Go through what is open:

{open}
5. Ask whether they have already paid or whether anything on the invoices is wrong. If they dispute an invoice, record the dispute: we do not ask for payment of a disputed invoice until it is resolved.
6. {ask}
7. If they agree to pay, record the promise (amount, currency and date). If they cannot pay in full, offer a payment plan.
8. Explain how they can pay:

{pay}
They can also use the payment portal; we will send them the link: {{{{ portal_link }}}}
9. Thank them and sum up what was agreed.

Throughout: stay calm and courteous. Never threaten, insult or use obscene language; never say you will tell anyone else about the debt, and never discuss it with anyone but the customer. If they ask us to stop calling, note it and end the call politely.
"""


def _message(texts: tuple[str, str, str], *, greeting: str, opening: str, pay: str, portal: str, sign_off: str) -> str:
    _, intro, after = texts
    return f"{greeting}\n\n{intro}\n\n{opening}\n{after}\n\n{pay}\n{portal}\n{sign_off}\n{{{{ sender }}}}\n"


def _texts() -> tuple[dict[str, str], ...]:
    made: list[dict[str, str]] = []
    for stage in _EN:
        en, fil = _EN[stage], _FIL[stage]
        en_kw = {"opening": _EN_OPEN, "pay": _EN_PAY, "portal": _EN_PORTAL}
        fil_kw = {"opening": _FIL_OPEN, "pay": _FIL_PAY, "portal": _FIL_PORTAL}
        email_en = _message(en, greeting=f"Dear {_DEBTOR},", sign_off="Kind regards,", **en_kw)
        email_fil = _message(fil, greeting=f"Magandang araw po, {_DEBTOR}:", sign_off="Lubos na gumagalang,", **fil_kw)
        letter = _message(en, greeting=f"{{{{ today }}}}\n\nDear {_DEBTOR},", sign_off="Yours sincerely,", **en_kw)
        title, line, ask = _CALL[stage]
        call = _CALL_SCRIPT.format(title=title, debtor=_DEBTOR, line=line, ask=ask, open=_EN_OPEN, pay=_CALL_PAY)
        made += [
            {"stage": stage, "channel": "email", "language": "en", "subject": en[0], "body": email_en + _OPT_OUT},
            {"stage": stage, "channel": "email", "language": "fil", "subject": fil[0], "body": email_fil + _OPT_OUT},
            {"stage": stage, "channel": "sms", "language": "en", "body": _SMS_EN[stage] + _OPT_OUT},
            {"stage": stage, "channel": "sms", "language": "fil", "body": _SMS_FIL[stage] + _OPT_OUT},
            {"stage": stage, "channel": "letter", "language": "en", "subject": en[0], "body": letter},
            {"stage": stage, "channel": "call", "language": "en", "body": call},
        ]
    return tuple(made)


# Keyword arguments for core.templates.Template, one dict per shipped template.
DEFAULT_TEXTS: tuple[dict[str, str], ...] = _texts()
