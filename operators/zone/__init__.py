"""The zone engine, split by capability (see :mod:`.engine` for the map)."""
