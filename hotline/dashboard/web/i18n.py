"""The dashboard in Russian (default), Kazakh and English: gettext catalogs, through Flask-Babel.

The catalogs are translations/<lang>/LC_MESSAGES/messages.po beside this file, edited with any
gettext tool (Poedit, Lokalize, Weblate) and compiled to the messages.mo beside each, which is
committed so that a fresh clone runs as it is (README.md, "The dashboard's languages and
translations"). The msgids are the English texts, so a missing translation shows English.
"""

from __future__ import annotations

from pathlib import Path

from babel.numbers import format_decimal
from flask import Flask, g, has_app_context, request
from flask_babel import Babel, get_translations

from ...outcomes.model import Field

LANGUAGES: dict[str, str] = {"ru": "Русский", "kk": "Қазақша", "en": "English"}
DEFAULT_LANGUAGE = "ru"
COOKIE_NAME = "hotline_lang"  # the login page's choice, before there is an account to store it
TRANSLATIONS = Path(__file__).parent / "translations"


def N_(text: str) -> str:  # noqa: N802 - the name pybabel extract looks for by default
    """Mark text for the catalogs; it is translated where it is shown (label(), gettext(var))."""
    return text


TOPIC_LABELS = {
    "violence": N_("Domestic violence"),
    "trafficking": N_("Trafficking and forced labor"),
    "labor": N_("Unemployment and labor rights"),
}
LANGUAGE_LABELS = {"kk": N_("Kazakh"), "ru": N_("Russian"), "en": N_("English")}
OUTCOME_LABELS = {
    "in_menu": N_("In the menu"),
    "routing": N_("Ringing volunteers"),
    "connected": N_("Connected"),
    "nobody_available": N_("Nobody available"),
    "declined_by_all": N_("Declined by all"),
    "no_answer": N_("No answer"),
    "callback_requested": N_("Callback requested"),
    "emergency_info": N_("Heard emergency numbers"),
    "abandoned_in_menu": N_("Hung up in the menu"),
    "abandoned_waiting": N_("Hung up while waiting"),
    "failed": N_("Failed"),
}
RING_LABELS = {
    "ringing": N_("Ringing"),
    "accepted": N_("Accepted"),
    "declined": N_("Declined"),
    "no_key": N_("No key pressed"),
    "busy": N_("Busy"),
    "no_answer": N_("No answer"),
    "failed": N_("Failed"),
    "canceled": N_("Caller hung up"),
}
WINDOW_LABELS = {
    "any": N_("Any time"),
    "morning": N_("Morning 09-12"),
    "afternoon": N_("Afternoon 12-17"),
    "evening": N_("Evening 17-21"),
}
AUDIT_LABELS = {
    "login": N_("Signed in"),
    "login_failed": N_("Failed sign-in"),
    "logout": N_("Signed out"),
    "calllog_view": N_("Viewed the call log"),
    "call_view": N_("Viewed a call"),
    "calllog_export": N_("Exported the call log"),
    "stats_view": N_("Viewed statistics"),
    "report_view": N_("Viewed the funders' report"),
    "report_export": N_("Exported the funders' report"),
    "callback_cancel": N_("Cancelled a callback"),
    "volunteer_create": N_("Added a volunteer"),
    "volunteer_update": N_("Edited a volunteer"),
    "volunteer_deactivate": N_("Deactivated a volunteer"),
    "volunteer_reactivate": N_("Reactivated a volunteer"),
    "shift_create": N_("Added a shift"),
    "shift_update": N_("Edited a shift"),
    "shift_delete": N_("Deleted a shift"),
    "availability_change": N_("Changed availability"),
    "account_disable": N_("Disabled an account"),
    "account_enable": N_("Enabled an account"),
    "login_throttled": N_("Sign-in attempts refused"),
    "password_change": N_("Changed their password"),
    "password_reset": N_("Password reset at the server"),
    "account_unlock": N_("Account unpaused at the server"),
    "live_view": N_("Viewed the live view"),
    "roster_view": N_("Viewed the roster"),
    "volunteer_view": N_("Viewed a volunteer"),
    "users_view": N_("Viewed the accounts"),
    "audit_view": N_("Viewed the audit log"),
    "outcomes_pending_view": N_("Viewed the pending reports"),
    "outcome_view": N_("Viewed a call report"),
    "outcome_correct": N_("Corrected a call report"),
}
# What an audited action was done to (AuditEvent.object_type).
OBJECT_LABELS = {
    "call": N_("Call"),
    "call_log": N_("Call log"),
    "outcome_report": N_("Call report"),
    "outcome_reports": N_("Pending reports"),
    "callback": N_("Callback request"),
    "report": N_("Report for funders"),
    "shift": N_("Shift"),
    "statistics": N_("Statistics"),
    "user": N_("Account"),
    "volunteer": N_("Volunteer"),
}
CALLBACK_LABELS = {"pending": N_("Waiting"), "dialing": N_("Calling now")}
ROLE_LABELS = {
    "lawyer": N_("Lawyer"),
    "psychologist": N_("Psychologist"),
    "social_worker": N_("Social worker"),
    "supervisor": N_("Supervisor"),
    "volunteer": N_("Volunteer"),
}
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))


def current_language() -> str:
    """The language of the current request (chosen in choose_language)."""
    return g.get("lang", DEFAULT_LANGUAGE) if has_app_context() else DEFAULT_LANGUAGE


def init_app(app: Flask) -> None:
    """Give app Flask-Babel with the dashboard's catalogs and its language choice."""
    Babel(
        app,
        configure_jinja=False,  # templates get gettext from wiring.py: plain text, autoescaped
        default_locale=DEFAULT_LANGUAGE,
        default_translation_directories=str(TRANSLATIONS),
        locale_selector=current_language,
    )


def gettext(text: str, **params: object) -> str:
    """text in the current language, with %(name)s placeholders filled from params."""
    translated: str = get_translations().ugettext(text)
    return translated % params if params else translated


def ngettext(singular: str, plural: str, n: int, **params: object) -> str:
    """The form the current language uses for n (1 звонок, 2 звонка, 5 звонков); %(num)s is n
    written for the language, other placeholders come from params."""
    translated: str = get_translations().ungettext(singular, plural, n)
    return translated % {"num": format_decimal(n, locale=current_language()), **params}


def label(kind: str, value: str | None) -> str:
    """The translated label of a vocabulary id (topic, outcome, role ...); '—' for none."""
    if value is None or value == "":
        return "—"
    table = {
        "topic": TOPIC_LABELS,
        "language": LANGUAGE_LABELS,
        "outcome": OUTCOME_LABELS,
        "role": ROLE_LABELS,
        "ring": RING_LABELS,
        "window": WINDOW_LABELS,
        "callback": CALLBACK_LABELS,
        "audit": AUDIT_LABELS,
        "object": OBJECT_LABELS,
    }[kind]
    return gettext(table[value]) if value in table else value


def outcome_text(item: Field | None, option_id: str) -> str:
    """An outcome answer in the reader's language (config/outcomes.yaml's labels), or
    "retired option (id)" when the file no longer offers it: old reports keep their value."""
    option = item.option(option_id) if item else None
    if option is None:
        return gettext("retired option (%(id)s)", id=option_id)
    return option.label(current_language())


def ordinal(n: int, lang: str | None = None) -> str:
    """n as an ordinal numeral: 3rd, 3-й, 3-."""
    lang = lang or current_language()
    if lang == "ru":
        return f"{n}-й"
    if lang == "kk":
        return f"{n}-"  # Kazakh writes ordinals in digits with a hyphen: "3-қоңырау"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def repeat_label(count: int | None) -> str:
    """ "3rd call in 30 days" for a repeat caller; empty for a first call or a withheld number."""
    if not count or count < 2:
        return ""
    return gettext("%(nth)s call in 30 days", nth=ordinal(count))


def choose_language() -> None:
    """before_request: the signed-in user's language, else the login page's cookie, else ru."""
    user = g.get("user")
    lang = user.language if user is not None else request.cookies.get(COOKIE_NAME)
    g.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
