"""Benchmarks of the sweep against its limits: ``python -m benchmarks [--quick] [NAME ...]`` (``make bench``).

Each benchmark prints a table and appends a dated row to ``benchmarks/RESULTS.md``. They run on the real
data in ``../shared/data`` and the real all-MiniLM-L6-v2, and report ratios measured within one run,
since absolute times drift on a shared machine.
"""
