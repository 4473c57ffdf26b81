"""A row locked by another database session, as another worker or an admin's save holds it."""

from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction


@contextmanager
def locked_elsewhere(model, pk, *, mode: str = "UPDATE"):
    """`model`'s row `pk` stays locked (FOR `mode`, on another connection) until the block
    ends; within it, this connection waits at most a second for any lock, then errors.
    "NO KEY UPDATE" is the lock an UPDATE of the row's other columns holds."""
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute(
                f"SELECT 1 FROM {model._meta.db_table} WHERE id = %s FOR {mode}",  # noqa: S608
                [pk],
            )
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '1s'")
            yield
    finally:
        other.rollback()
        other.close()
