-- 0004: notices, the short banners an owner publishes at the top of the help panel.
--
-- Written by widget_server/notices/postgres.py; every node of a scale-out install reads this
-- table (through a cache of a few seconds), so a notice published on one shows on all. Rows
-- are never deleted: clearing a notice early sets cleared_at, and a notice past `until`
-- simply stops showing (readers compare times; no job runs).
--
--   id          the short id the owner clears it by (n and 7 hex digits)
--   seq         publication order: the list's and the export's order
--   text        the default text, shown when the panel's language has none of its own
--   texts       {locale: text} for the UI languages the owner wrote
--   article     the slug of the public article the banner links, or NULL
--   until       when it stops showing
--   cleared_at  when the owner took it down early, or NULL

CREATE TABLE notices (
    id          text COLLATE "C" PRIMARY KEY,
    seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    text        text NOT NULL,
    texts       jsonb NOT NULL DEFAULT '{}',
    article     text,
    created_at  timestamptz NOT NULL,
    until       timestamptz NOT NULL,
    cleared_at  timestamptz
);

CREATE INDEX notices_live ON notices (until) WHERE cleared_at IS NULL;
