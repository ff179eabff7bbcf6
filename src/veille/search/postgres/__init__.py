"""The PostgreSQL search backend: `PostgresIndex` (index.py) on the archive's database, the query
tree as tsquery and WHERE clauses (tsquery.py), its tables and configurations (schema.py)."""
