"""Each statement marked `ruleid:` must be reported by raw-sql-from-strings."""

# Deliberate violations for the semgrep rule to find; ruff rightly objects to them too.
# ruff: noqa: S608, S610, S611, UP031, UP032

from django.db import connection
from django.db.models.expressions import RawSQL

from referrals.models import Referral


def fstring_execute(term):
    with connection.cursor() as cursor:
        # ruleid: raw-sql-from-strings
        cursor.execute(f"SELECT id FROM referrals_referral WHERE reference = '{term}'")


def concatenated_execute(term):
    with connection.cursor() as cursor:
        # ruleid: raw-sql-from-strings
        cursor.execute("SELECT id FROM referrals_referral WHERE reference = '" + term + "'", [])


def percent_execute(term):
    with connection.cursor() as cursor:
        # ruleid: raw-sql-from-strings
        cursor.executemany("DELETE FROM referrals_referral WHERE reference = '%s'" % term, [])


def format_raw(term):
    # ruleid: raw-sql-from-strings
    return Referral.objects.raw("SELECT * FROM referrals_referral WHERE status = '{}'".format(term))


def built_in_a_variable(column, term):
    sql = "SELECT * FROM referrals_referral WHERE "
    sql += f"{column} = %s"
    # ruleid: raw-sql-from-strings
    return Referral.objects.raw(sql, [term])


def raw_sql_expression(column):
    # ruleid: raw-sql-from-strings
    return Referral.objects.annotate(value=RawSQL(f"SELECT {column}", []))


def extra_where(term):
    # ruleid: raw-sql-from-strings
    return Referral.objects.extra(where=[f"reference = '{term}'"])


def extra_select(column):
    # ruleid: raw-sql-from-strings
    return Referral.objects.extra(select={"value": "upper(%s)" % column})
