"""The ``intentgate`` command line: ``cli`` (the entry point and ``serve``), the offline
commands (``offline``: import, fit, evaluate, lodo, fit-bundled), ``lift``, ``routes`` and
``warmup``. Nothing on the serving path imports this package.
"""
