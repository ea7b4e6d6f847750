"""Vertebroplasty eligibility rules: pure Python, no database (see ``eligibility.rules``)."""
