# The queue and its searches at a million referrals (issue 18): "Open" is waiting on the practice
# (booked left out), the order is three index walks, and every search path has its index; the
# duplicate check's iexact gets an index on UPPER(family name). Each index says its query in
# referrals/models/referral.py.

import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('referrals', '0012_day_at_the_practice'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='referral',
            name='referral_name_dob_idx',
        ),
        migrations.RemoveIndex(
            model_name='referral',
            name='referral_open_queue_idx',
        ),
        migrations.AddIndex(
            model_name='referral',
            index=models.Index(fields=['status', 'submitted_at', 'id'], name='referral_status_recv_idx'),
        ),
        migrations.AddIndex(
            model_name='referral',
            index=models.Index(condition=models.Q(('status__in', ['submitted', 'info_requested', 'accepted', 'approved'])), fields=['pain_onset', 'submitted_at', 'id'], name='referral_waiting_queue_idx'),
        ),
        migrations.AddIndex(
            model_name='referral',
            index=models.Index(condition=models.Q(('status__in', ['submitted', 'info_requested', 'accepted', 'approved'])), fields=['submitted_at', 'id'], name='referral_waiting_recv_idx'),
        ),
        migrations.AddIndex(
            model_name='referral',
            index=models.Index(fields=['medicare_number'], name='referral_medicare_prefix_idx', opclasses=['varchar_pattern_ops']),
        ),
        migrations.AddIndex(
            model_name='referral',
            index=models.Index(django.db.models.functions.text.Upper('patient_family_name'), models.F('patient_dob'), name='referral_name_dob_upper_idx'),
        ),
    ]
