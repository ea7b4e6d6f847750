# The queue and its searches at a million referrals (issue 18): "Open" is waiting on the practice
# (booked left out), the order is three index walks, and every search path has its index; the
# duplicate check's iexact gets an index on UPPER(family name). Each index says its query in
# referrals/models/referral.py.

import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models

WAITING = "status IN ('submitted', 'info_requested', 'accepted', 'approved')"


class PostgresOnlySQL(migrations.RunSQL):
    """RunSQL that is skipped on any database but PostgreSQL (as in 0006)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


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
        migrations.RemoveIndex(
            model_name='referral',
            name='referral_outcome_idx',
        ),
        migrations.AddIndex(
            model_name='referral',
            index=models.Index(fields=['status', 'eligibility_outcome', 'pain_onset', 'submitted_at', 'id'], name='referral_outcome_queue_idx'),
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
        # The default queue searched by name: WHERE status IN (waiting) AND (UPPER(family) LIKE
    # '%WORD%' OR UPPER(given) LIKE '%WORD%'), and its capped counts. 0006's indexes hold every
    # referral; these only those waiting on the practice (a fifth of them), so a name's matches
    # read from the table are the queue's, not the practice's whole history.
    PostgresOnlySQL(
        sql="CREATE INDEX IF NOT EXISTS referral_waiting_family_trgm_idx ON referrals_referral "
        f"USING gin (UPPER(patient_family_name) gin_trgm_ops) WHERE {WAITING}",
        reverse_sql="DROP INDEX IF EXISTS referral_waiting_family_trgm_idx",
    ),
    PostgresOnlySQL(
        sql="CREATE INDEX IF NOT EXISTS referral_waiting_given_trgm_idx ON referrals_referral "
        f"USING gin (UPPER(patient_given_name) gin_trgm_ops) WHERE {WAITING}",
        reverse_sql="DROP INDEX IF EXISTS referral_waiting_given_trgm_idx",
    ),
]
