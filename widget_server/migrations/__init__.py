"""Versioned database migrations, shipped as package data (one folder per database).

    postgresql/NNNN_name.sql   applied in order by widget_server.tickets.pg_schema, each once,
                               in one transaction; a shipped file is never edited, only followed
"""
