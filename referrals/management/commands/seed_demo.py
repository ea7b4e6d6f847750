"""Create the demo accounts (and, once referrals exist, synthetic referrals). Idempotent.

Every person and patient here is invented. It refuses to run with DEBUG off unless --force,
so a production database never gets accounts with published passwords.
"""

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from portal import roles
from portal.models import ReferrerProfile, User
from referrals.demo import seed_referrals, seed_sites

# Published in the README: these accounts exist only in demo databases.
DEMO_ACCOUNTS = [
    # email, password, first, last, role (None: superuser)
    ("gp@clinic.example", "demo-referrer-2026", "Alex", "Morgan", roles.REFERRER),
    ("triage@practice.example", "demo-admin-2026", "Sam", "Taylor", roles.ADMIN),
    ("ir@practice.example", "demo-radiologist-2026", "Jordan", "Lee", roles.RADIOLOGIST),
    ("manager@practice.example", "demo-manager-2026", "Robin", "Patel", None),
]


class Command(BaseCommand):
    help = "Create demo accounts and synthetic referrals (development only)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Run even with DEBUG off (never in production)."
        )

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates accounts with published passwords; it runs only with DEBUG on "
                "(or with --force on a database that is not production)."
            )
        with transaction.atomic():
            users = {row[4]: self.ensure_user(*row) for row in DEMO_ACCOUNTS}

        seed_sites()
        made = seed_referrals(
            referrer=users[roles.REFERRER],
            admin=users[roles.ADMIN],
            radiologist=users[roles.RADIOLOGIST],
        )
        if made:
            self.stdout.write(f"Created {made} synthetic referrals with generated documents.")
        self.stdout.write(self.style.SUCCESS("Demo accounts (synthetic, development only):"))
        for email, password, _first, _last, role in DEMO_ACCOUNTS:
            self.stdout.write(f"  {role or 'superuser':<12} {email:<28} {password}")

    def ensure_user(self, email, password, first, last, role):
        user, _ = User.objects.get_or_create(email=email)
        user.first_name, user.last_name = first, last
        user.is_active = True
        user.is_staff = role is None
        user.is_superuser = role is None
        user.set_password(password)
        user.save()
        if role:
            user.groups.set([Group.objects.get(name=role)])
        if role == roles.REFERRER:
            ReferrerProfile.objects.update_or_create(
                user=user,
                defaults={
                    "provider_number": "2123456Y",
                    "practice_name": "Example Street Medical Centre",
                    "address": "1 Example Street, Carlton VIC 3053",
                    "phone": "03 9000 0000",
                    "approved_at": timezone.now(),
                },
            )
        return user
