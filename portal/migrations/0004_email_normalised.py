# Emails stored as portal.models.normalise_email makes them (trimmed, lower-case); 0005 keeps
# them so. Two migrations: PostgreSQL alters a table more happily outside the data change.

from django.db import migrations


def normalise_emails(apps, schema_editor):
    """Trim and lower-case every stored email; two accounts that would then be one are named
    for a person to merge, and nothing is changed."""
    User = apps.get_model("portal", "User")
    seen: dict[str, int] = {}
    changes = []
    for pk, email in User.objects.order_by("pk").values_list("pk", "email"):
        normal = (email or "").strip().lower()
        if normal in seen:
            raise RuntimeError(
                f"Accounts {seen[normal]} and {pk} have the same email address apart from case "
                "or spaces. Merge or rename one in the Django admin, then migrate again."
            )
        seen[normal] = pk
        if normal != email:
            changes.append((pk, normal))
    for pk, normal in changes:
        User.objects.filter(pk=pk).update(email=normal)


class Migration(migrations.Migration):

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
        ('portal', '0003_auditevent'),
    ]

    operations = [
        migrations.RunPython(normalise_emails, migrations.RunPython.noop),
    ]
