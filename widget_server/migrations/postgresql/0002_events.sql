-- 0002: self-service events, one row per event, and one row per UTC day that holds any.
--
-- Written by widget_server/events/postgres.py and append-only: rows are inserted by
-- append_many (one transaction per batch, all or nothing) and deleted only by retention, a
-- whole UTC day at a time (events_retention_days). A plain table, not one partition per day:
-- see that module's docstring for why.
--
--   seq      the order events were written in
--   day      the UTC day of `at`: reading goes day by day in the order written, (day, seq),
--            which is the JSON store's order (a file per day, appended to), and retention
--            deletes whole days
--   at       when the event happened; range queries filter on it
--   session  the widget's session id (events/registry.py, SESSION_PATTERN) or NULL
--   type     the event type, declared in events/registry.py
--   data     the event's fields as `json`, not `jsonb`: json keeps the text as written (key
--            order, numbers as spelled, and the escape \u0000, which jsonb cannot hold), so an
--            event reads back exactly as the JSON-lines store gives it
--
-- event_days: per UTC day, how many bytes the day's events take as JSON lines (what the JSON
-- store's day file holds) and how many events there are. The daily cap (events_max_day_mb)
-- is checked against it inside the writing transaction; retention deletes its rows with the
-- day's events.

CREATE TABLE events (
    seq      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    day      date NOT NULL,
    at       timestamptz NOT NULL,
    session  text COLLATE "C",
    type     text COLLATE "C" NOT NULL,
    data     json NOT NULL
);

CREATE INDEX events_day_seq ON events (day, seq);
CREATE INDEX events_type_at ON events (type, at);

CREATE TABLE event_days (
    day      date PRIMARY KEY,
    bytes    bigint NOT NULL,
    events   bigint NOT NULL
);
