"""Forms that raw-sql-from-strings must leave alone."""

from django.db import connection
from django.db.models.expressions import RawSQL
from psycopg import sql

from referrals.models import Referral

BY_REFERENCE = "SELECT id FROM referrals_referral WHERE reference = %s"


def literal():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def parameters(term):
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM referrals_referral WHERE reference = %s", [term])
        cursor.execute(BY_REFERENCE, [term])


def parameter_built_from_strings(term):
    # Building the *value* is fine: it is bound, never spliced into the SQL.
    pattern = f"%{term}%"
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM referrals_referral WHERE reference LIKE %s", [pattern])
    return Referral.objects.extra(where=["reference LIKE %s"], params=["%" + term + "%"])


def raw_with_params(term):
    return Referral.objects.raw("SELECT * FROM referrals_referral WHERE status = %s", [term])


def raw_sql_expression(term):
    return Referral.objects.annotate(value=RawSQL("SELECT upper(%s)", [term]))


def literal_pieces():
    query = "SELECT id " + "FROM referrals_referral"
    return Referral.objects.raw(query)


def composed_identifier(column, term):
    # Composed inline: sql.SQL(...).format(...) quotes identifiers; a template kept in a
    # variable first is not recognised, so keep the two together.
    query = sql.SQL("SELECT {} FROM referrals_referral WHERE id = %s").format(
        sql.Identifier(column)
    )
    with connection.cursor() as cursor:
        cursor.execute(query, [term])


def fstring_without_fields():
    return Referral.objects.raw(f"SELECT * FROM referrals_referral")  # noqa: F541
