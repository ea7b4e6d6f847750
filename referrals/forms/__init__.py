"""The referrals app's forms: intake.py (the referrer's), staff.py (the practice's), fields.py."""
