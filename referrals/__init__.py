"""The referrals app: referrals from draft to completion, their documents, packets and outbox."""
