"""Transitional name of the zone engine, which now lives in :mod:`operators.zone`
(one module per capability; the map is in ``operators/zone/engine.py``).

Nothing in the project imports this module any more; it stays only while
``tests/test_doctests.py`` lists it by name, and goes with that line.
"""

from fleetstream.operators.zone.engine import ZoneEngine, routing_config  # noqa: F401
