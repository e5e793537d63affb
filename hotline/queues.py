"""Queue names: the only place they are spelled (the core enqueues, workers/ works them)."""

CALLBACKS = "hotline-callbacks"
MAINTENANCE = "hotline-maintenance"

ALL = (CALLBACKS, MAINTENANCE)
