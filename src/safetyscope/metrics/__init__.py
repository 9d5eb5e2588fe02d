"""Rates, intervals and scorecards computed from stored verdicts."""
