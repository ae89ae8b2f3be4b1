-- 0001: tickets, one row per ticket.
--
-- `document` is the whole ticket exactly as widget_server/tickets/model.py shapes it; the
-- other columns are copies the store writes beside it on every add and update, so that the
-- inbox (summaries), lookups and erasure run as SQL:
--   reference   the public reference, unique: a taken one makes the store draw a new one
--   seq         insertion order: iter_tickets' order and the tie-break between equal times
--   status      the inbox filter and its per-status counts
--   email_key   the email casefolded by Python, what `deskbell erase --email` matches
--   created_at  ISO 8601 text ordered byte-wise (COLLATE "C"), as Python compares strings
--   search      the searched fields (store.SEARCHED_FIELDS, in that order) casefolded by
--               Python, so text search matches exactly what store.summarize() matches

CREATE TABLE tickets (
    reference  text COLLATE "C" PRIMARY KEY,
    seq        bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    status     text COLLATE "C" NOT NULL,
    email_key  text COLLATE "C" NOT NULL,
    created_at text COLLATE "C" NOT NULL,
    updated_at text COLLATE "C" NOT NULL,
    search     text[] COLLATE "C" NOT NULL,
    document   jsonb NOT NULL
);

CREATE INDEX tickets_created_at ON tickets (created_at);
CREATE INDEX tickets_status_created_at ON tickets (status, created_at);
CREATE INDEX tickets_email_key ON tickets (email_key);
