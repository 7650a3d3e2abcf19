"""Recruited businesses: one row per company (by 統一編號), linked to the LINE users who speak
for it. Eligibility intakes create them; letters, visits, reminders and exports build on them."""
