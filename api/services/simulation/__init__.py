"""Simulation as an application service: scenarios built from the twin (``inputs``,
``records``), run as jobs in a process pool (``jobs``, ``work``), calibration and line
studies (``fit``), stored and watched (``service``)."""
