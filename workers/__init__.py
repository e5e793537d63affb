"""RQ entry points (thin): the logic they call lives in the hotline package."""
