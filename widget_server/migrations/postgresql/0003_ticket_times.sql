-- 0003: what a report over a time range reads, found by index instead of by reading every row.
--
-- A report needs the tickets created in its range (created_at, already indexed by 0001) and
-- the tickets rated in it, of any age (store.touches). A rating lives only in `document`, so
-- deskbell_last_rated(document) is the latest `at` of a ticket's ratings (ISO text, compared
-- byte-wise like created_at; NULL without ratings, or when `ratings` is not a list), and
-- tickets_last_rated indexes it for the tickets that have one. PostgresTicketStore's
-- tickets_touched reads candidates through both indexes with a day of margin on each side and
-- keeps exactly the tickets store.touches accepts, so an offset other than UTC is placed right.

CREATE FUNCTION deskbell_last_rated(document jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN jsonb_typeof(document -> 'ratings') = 'array'
                THEN (SELECT max((r ->> 'at') COLLATE "C")
                      FROM jsonb_array_elements(document -> 'ratings') AS r)
           END;

CREATE INDEX tickets_last_rated ON tickets (deskbell_last_rated(document) COLLATE "C")
    WHERE deskbell_last_rated(document) IS NOT NULL;
