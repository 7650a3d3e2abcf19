"""Helpers shared by the resilience tests (fuzz, faults, crashes, floods)."""
