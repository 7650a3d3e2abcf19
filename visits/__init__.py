"""Advisor visits (輔導訪視): booked, reminded, logged, counted against the programme's rules."""
