"""Eligibility checks for the SME digitalisation programmes (rules in programs.yaml)."""
from .engine import (ProgramRules, Reason, Verdict, early_verdict, evaluate,  # noqa: F401
                     load_programs, next_needed_field)
