-- 0005: what a report reads of an event, in columns of its own.
--
-- A report over a month of a busy help desk reads about a million events. Pulling the fields
-- it needs out of the `json` data at read time costs more than the rest of the report (json
-- is parsed again for every field), so PostgresEventStore.append_many writes them beside the
-- data, from the same checked event (events/postgres.py, report_columns), and
-- insights/pg_facts.py aggregates them in SQL:
--
--   query      a search's query ('' and absent: NULL); a NUL character, which text cannot
--              hold, is stored as U+FFFD (the search API never stores one)
--   results    a search's result count when it is a whole number, else NULL
--   slug       an article_view's or vote's article slug (NULL when absent or empty)
--   source     an article_view's source (NULL when absent or empty)
--   helpful    a vote's verdict, true or false
--   reference  a ticket_created's ticket reference (NULL when absent or empty)
--
-- The data stays as written; these columns only repeat it. Rows stored before this migration
-- are filled here from their data, each \u0000 escape (not an escaped backslash followed by
-- the letters u0000) read as U+FFFD first, as above.

ALTER TABLE events
    ADD COLUMN query     text COLLATE "C",
    ADD COLUMN results   integer,
    ADD COLUMN slug      text COLLATE "C",
    ADD COLUMN source    text COLLATE "C",
    ADD COLUMN helpful   boolean,
    ADD COLUMN reference text COLLATE "C";

UPDATE events AS e SET
    query = CASE WHEN e.type = 'search' THEN nullif(f.d ->> 'query', '') END,
    results = CASE WHEN e.type = 'search' AND json_typeof(f.d -> 'results') = 'number'
                        AND (f.d ->> 'results') ~ '^[0-9]{1,9}$'
                   THEN (f.d ->> 'results')::integer END,
    slug = CASE WHEN e.type IN ('article_view', 'vote') THEN nullif(f.d ->> 'slug', '') END,
    source = CASE WHEN e.type = 'article_view' THEN nullif(f.d ->> 'source', '') END,
    helpful = CASE WHEN e.type = 'vote' THEN coalesce(f.d ->> 'helpful' = 'true', false) END,
    reference = CASE WHEN e.type = 'ticket_created' THEN nullif(f.d ->> 'reference', '') END
FROM (SELECT seq, regexp_replace(data::text, '(?<!\\)((?:\\\\)*)\\u0000', '\1\\ufffd',
                                 'g')::json AS d FROM events
      WHERE type IN ('search', 'article_view', 'vote', 'ticket_created')) AS f
WHERE f.seq = e.seq;

