"""Experiments on the ticket engine beyond the lottery itself.

stability: the instability analysis (Frankle et al. 2020), stability_run its
resumable run and the search of the automatic rewind point; pruning_at_init:
SNIP, SynFlow, GraSP and random masks, prune_at_init_run their training at the
densities of an IMP run; supermask: a ticket's mask on its untrained weights
(algorithm and run in one short file). Every run is a ``ResumableRun``
(runner.py) that writes only what it trains and records, and starts from a
lottery run through ``StoredRun``; their tables and figures are in tables.py
and plots/, their commands in cli/.
"""
