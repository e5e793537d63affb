"""What `./dev run` prints once the hotline is up: its URLs, its parts, and how to try it."""

from __future__ import annotations

from .common import ROOT, redact_url
from .environment import DEV_ENV_FILE, is_local

# Russian, violence; nobody answers (every volunteer's phone rings out); a callback (1) to the
# number calling (1), at any time (1), without saying who calls (2).
CALLBACK_KEYS = "2,1,1,1,1,2"


def print_banner(env: dict[str, str], port: int, notes: dict[str, str]) -> None:
    """The webhook URLs, the dashboard, the services in use and the commands to try a call."""
    base = env["PUBLIC_BASE_URL"].rstrip("/")
    database = env.get("DATABASE_URL") or "sqlite:///var/hotline.db (default)"
    lines = [
        "",
        "The hotline is running. Ctrl-C stops everything.",
        "",
        "  Twilio webhooks (Twilio console > Phone Numbers > your number > Voice, HTTP POST):",
        f"    A call comes in         {base}/twilio/voice",
        f"    Primary handler fails   {base}/twilio/fallback",
        f"    Call status changes     {base}/twilio/status",
        f"  Dashboard             http://127.0.0.1:{port + 1}/dashboard/ (its own pool)",
        f"  Webhooks listen on    http://127.0.0.1:{port}",
        f"  Database              {redact_url(database)}",
        f"  Redis                 {notes['redis']}",
        f"  Twilio's REST API     {notes['twilio']}",
        f"  Settings              {DEV_ENV_FILE.relative_to(ROOT)} (your shell's variables win)",
        "",
        f"  Try a call, in another terminal (it calls {base}):",
        "    ./dev simulate              walk the menus, typing keys as the caller",
        "    ./dev simulate --keys 2,1   a scripted call: 2 Russian, then 1 violence",
        "  A callback: nobody answers, the caller asks for one, then both phones answer it:",
        f"    ./dev simulate --keys {CALLBACK_KEYS} --volunteer-answers '*=no-answer' "
        "--answer-callback",
        "",
        "  A dashboard login (supervisor), then open the dashboard URL above:",
        "    ./dev hotline users create NAME --role supervisor",
    ]
    if is_local(base):
        lines += [
            "",
            "  Twilio cannot reach 127.0.0.1: for real calls set PUBLIC_BASE_URL to a public https",
            "  URL that forwards to this port, and your real Twilio credentials, in var/dev.env.",
        ]
    print("\n".join(lines) + "\n", flush=True)
