"""Records -> tables, reports and plots. ``render.table`` is the one table renderer."""

from armjit.render.tables import TableFormat, fmt_seconds, table

__all__ = ["TableFormat", "fmt_seconds", "table"]
