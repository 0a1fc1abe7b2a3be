"""``intentgate bench``: the load benchmark beside nginx and a bare passthrough (``run``), the
passthroughs that compare upstream clients (``clients``) and the classification micro-benchmarks
(``micro``). Nothing on the serving path imports this package.
"""
