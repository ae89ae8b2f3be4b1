-- Searches are recorded by the server as it answers them (events/recorder.py), with the slug
-- of the answer they quoted in data.answer. The report reads it from the slug column, which
-- until now held a slug for article views and votes only (events/postgres.py,
-- report_columns, writes it for new searches). Searches stored before the server recorded
-- them quoted no answer, so this finds nothing to fill on an existing database; it is here so
-- that any row with an answer and an empty column is filled as report_columns would.

UPDATE events AS e SET slug = nullif(f.d ->> 'answer', '')
FROM (SELECT seq, regexp_replace(data::text, '(?<!\\)((?:\\\\)*)\\u0000', '\1\\ufffd',
                                 'g')::json AS d FROM events
      WHERE type = 'search' AND slug IS NULL AND data::text LIKE '%"answer":"_%') AS f
WHERE f.seq = e.seq;
