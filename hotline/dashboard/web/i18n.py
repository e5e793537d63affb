"""The dashboard in Russian (default), Kazakh and English: a plain dict catalog per language.

Keys are the English texts, so a missing translation shows English, never a blank. Flask-Babel
would add a compile step (.po -> .mo) for three small catalogs that change with the code.
"""

from __future__ import annotations

from flask import g, has_app_context, request

from .translations import kk, ru

LANGUAGES: dict[str, str] = {"ru": "Русский", "kk": "Қазақша", "en": "English"}
DEFAULT_LANGUAGE = "ru"
COOKIE_NAME = "hotline_lang"  # the login page's choice, before there is an account to store it
CATALOGS: dict[str, dict[str, str]] = {"ru": ru.MESSAGES, "kk": kk.MESSAGES, "en": {}}

TOPIC_LABELS = {
    "violence": "Domestic violence",
    "trafficking": "Trafficking and forced labor",
    "labor": "Unemployment and labor rights",
}
LANGUAGE_LABELS = {"kk": "Kazakh", "ru": "Russian", "en": "English"}
OUTCOME_LABELS = {
    "in_menu": "In the menu",
    "routing": "Ringing volunteers",
    "connected": "Connected",
    "nobody_available": "Nobody available",
    "declined_by_all": "Declined by all",
    "no_answer": "No answer",
    "callback_requested": "Callback requested",
    "emergency_info": "Heard emergency numbers",
    "abandoned_in_menu": "Hung up in the menu",
    "abandoned_waiting": "Hung up while waiting",
    "failed": "Failed",
}
RING_LABELS = {
    "ringing": "Ringing",
    "accepted": "Accepted",
    "declined": "Declined",
    "no_key": "No key pressed",
    "busy": "Busy",
    "no_answer": "No answer",
    "failed": "Failed",
    "canceled": "Caller hung up",
}
WINDOW_LABELS = {
    "any": "Any time",
    "morning": "Morning 09-12",
    "afternoon": "Afternoon 12-17",
    "evening": "Evening 17-21",
}
AUDIT_LABELS = {
    "login": "Signed in",
    "login_failed": "Failed sign-in",
    "logout": "Signed out",
    "calllog_view": "Viewed the call log",
    "call_view": "Viewed a call",
    "calllog_export": "Exported the call log",
    "stats_view": "Viewed statistics",
    "report_view": "Viewed the funders' report",
    "report_export": "Exported the funders' report",
    "callback_cancel": "Cancelled a callback",
    "volunteer_create": "Added a volunteer",
    "volunteer_update": "Edited a volunteer",
    "volunteer_deactivate": "Deactivated a volunteer",
    "volunteer_reactivate": "Reactivated a volunteer",
    "shift_create": "Added a shift",
    "shift_update": "Edited a shift",
    "shift_delete": "Deleted a shift",
    "availability_change": "Changed availability",
    "account_disable": "Disabled an account",
    "account_enable": "Enabled an account",
}
CALLBACK_LABELS = {"pending": "Waiting", "dialing": "Calling now"}
ROLE_LABELS = {
    "lawyer": "Lawyer",
    "psychologist": "Psychologist",
    "social_worker": "Social worker",
    "supervisor": "Supervisor",
    "volunteer": "Volunteer",
}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def current_language() -> str:
    """The language of the current request (chosen in choose_language)."""
    return g.get("lang", DEFAULT_LANGUAGE) if has_app_context() else DEFAULT_LANGUAGE


def gettext(text: str, **params: object) -> str:
    """text in the current language, with %(name)s placeholders filled from params."""
    translated = CATALOGS.get(current_language(), {}).get(text, text)
    return translated % params if params else translated


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
    }[kind]
    return gettext(table[value]) if value in table else value


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
