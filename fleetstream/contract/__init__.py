"""The contract: the ground floor every layer may import.

``events`` (input events and their validation), ``outputs`` (output topics and
record fields), ``settings`` (engine and service settings) and ``message``
(``InMsg``, one input message as a source hands it over).  Nothing here imports
anything else of fleetstream, so operators, models, connectors and flows can
depend on it without reaching into the CLI package (``fleetstream.cli`` and
friends).  ``tests/test_layers.py`` enforces the layering.
"""
