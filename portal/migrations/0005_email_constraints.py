# The database keeps emails normalised and unique whatever their case (portal.models.User).

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('portal', '0004_email_normalised'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='user',
            constraint=models.CheckConstraint(condition=models.Q(('email', django.db.models.functions.text.Lower(django.db.models.functions.text.Trim('email')))), name='portal_user_email_normalised', violation_error_message='Email addresses are stored trimmed and lower-case.'),
        ),
        migrations.AddConstraint(
            model_name='user',
            constraint=models.UniqueConstraint(django.db.models.functions.text.Lower('email'), name='portal_user_email_lower_unique', violation_error_message='An account with this email address already exists.'),
        ),
    ]
