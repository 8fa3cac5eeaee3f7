"""Storage: declarative base, column types, engines and sessions for SQLite, PostgreSQL, MariaDB."""
