"""Queue names: the only place they are spelled."""

CALLBACKS = "hotline-callbacks"
MAINTENANCE = "hotline-maintenance"

ALL = (CALLBACKS, MAINTENANCE)
