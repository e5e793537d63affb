"""IVR flows as data: the model, the YAML loader and validator, and the engine. Pure Python."""
