"""Trigram indexes for the triage queue's name search, on PostgreSQL only.

The queue searches names with icontains, which Django writes on PostgreSQL as
UPPER("patient_family_name"::text) LIKE UPPER('%word%'). No btree serves a LIKE with a leading
wildcard, so without these the search and its COUNT were sequential scans of every referral
(bench/README.md). A GIN index of pg_trgm trigrams on the same UPPER() expression serves it.

SQLite (the embedded `make run` mode) has no pg_trgm and a practice's worth of rows at most, so
there these operations do nothing. The indexes are not in Referral.Meta.indexes for the same
reason: Meta indexes are created on every database.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations


class PostgresOnlySQL(migrations.RunSQL):
    """RunSQL that is skipped on any database but PostgreSQL."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [
        ("referrals", "0005_queue_indexes"),
    ]

    operations = [
        # CREATE EXTENSION IF NOT EXISTS pg_trgm; a no-op on other databases. pg_trgm is a
        # trusted extension, so the database's owner may create it without superuser rights.
        TrigramExtension(),
        PostgresOnlySQL(
            sql="CREATE INDEX IF NOT EXISTS referral_family_name_trgm_idx ON referrals_referral "
            "USING gin (UPPER(patient_family_name) gin_trgm_ops)",
            reverse_sql="DROP INDEX IF EXISTS referral_family_name_trgm_idx",
        ),
        PostgresOnlySQL(
            sql="CREATE INDEX IF NOT EXISTS referral_given_name_trgm_idx ON referrals_referral "
            "USING gin (UPPER(patient_given_name) gin_trgm_ops)",
            reverse_sql="DROP INDEX IF EXISTS referral_given_name_trgm_idx",
        ),
    ]
