"""Experiments on the ticket engine beyond the lottery itself.

stability: the instability analysis (Frankle et al. 2020) and the automatic
rewind point; pruning_at_init: SNIP, SynFlow, GraSP and random masks at the
densities of an IMP run; supermask: a ticket's mask on its untrained weights.
Each module holds its algorithm and its resumable runner; their tables and
figures are in tables.py and plots/, their commands in cli/.
"""
