"""tminus benchmarks: figures against physical limits, not timed tests.

Run them all with ``python3 -m benchmarks`` (``--quick`` for smaller sizes, ``--only NAME``
for one). Each prints its figure, the ceiling or target it is measured against, the ratio,
and pass/miss. ``docs/benchmarks.md`` holds the latest results and what each one measures.
"""
