"""Plumbing every dashboard page uses: CSRF, security headers, cookies, request parameters,
formatting, translations, the audit trail, the clock and periods. Imports no feature package."""
