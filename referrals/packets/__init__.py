"""The referral packet: queue.py (versions through the outbox), build.py (the PDF of one
version), parts.py (each document made once into the pages every version appends), pdf.py
(WeasyPrint's restricted fetcher, the page stamp), sandbox.py (the bounded child process that
reads uploaded documents) and disarm.py (active content taken out of a PDF, in that child).

Nothing is imported here: `python -m referrals.packets.sandbox` must not load Django."""
