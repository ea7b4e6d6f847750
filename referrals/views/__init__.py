"""The referrals app's pages: referral.py (the referral page every role shares, and its audit
trail), intake.py (the referrer's form and list), staff.py (the queue, reviews, actions and
messages), files.py (documents and packets)."""
