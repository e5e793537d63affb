"""The supervisor and volunteer web dashboard under /dashboard/, one package per feature.

    web/       plumbing every page uses: CSRF, security headers, cookies, parameters, formatting,
               translations, the audit trail, the clock, periods
    accounts/  sign-in, sessions, passwords, access rules, the Accounts and Audit pages,
               `hotline users`
    calls/     the call log, a call's detail, the CSV export
    outcomes/  the volunteer's outcome report and its figures (a place kept ready)
    stats/     statistics, the funders' report, charts, small-cell suppression
    roster/    the roster and shift editors, the volunteer's own page (My shifts)
    live/      the live view and the week's coverage

Each feature is a Blueprint (its `__init__.py`) with its views and its templates
(`<feature>/templates/<feature>/`); wiring.py registers them all under web's parent Blueprint.
The list above is also the order of the layers: a package imports only those above it
(tests/unit/test_dashboard_layers.py checks it).
"""
