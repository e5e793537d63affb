#!/usr/bin/env python3
"""The developer command behind `./dev`: run the hotline locally, run the tests, try a call.

    ./dev run                  set up .venv, check, start Redis (embedded), a Twilio stand-in,
                               migrate, run web + worker
    ./dev test [PYTEST ARGS]   set up .venv, provide PostgreSQL and Redis, ruff, mypy, pytest
    ./dev simulate [ARGS]      `hotline simulate` against the running hotline (e.g. --keys 2,1)
    ./dev hotline ARGS         any `hotline` command with the local development environment
    ./dev shell-env            print `export` lines for that environment

Standard library only: it runs with the system python3 (3.11+) before any virtualenv exists.
The parts live in scripts/devtool/: venv, environment, children, redis, postgres, run, testing.
"""

from __future__ import annotations

import sys

USAGE = __doc__ or ""


def main(argv: list[str]) -> int:
    from devtool.common import DevError
    from devtool.run import cmd_run
    from devtool.shell import cmd_hotline, cmd_shell_env
    from devtool.testing import cmd_test

    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(USAGE.strip())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    try:
        if command == "run":
            return cmd_run()
        if command == "test":
            return cmd_test(rest)
        if command == "simulate":
            return cmd_hotline(["simulate", *rest])
        if command == "hotline":
            return cmd_hotline(rest)
        if command == "shell-env":
            return cmd_shell_env()
    except DevError as error:
        print(f"[dev] error: {error}", file=sys.stderr, flush=True)
        return error.code
    except KeyboardInterrupt:
        return 130
    print(f"[dev] unknown command {command!r}\n\n{USAGE.strip()}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    if sys.version_info < (3, 11):  # noqa: UP036 (run by whatever python3 the system has)
        sys.exit("./dev needs Python 3.11 or newer")
    sys.exit(main(sys.argv[1:]))
