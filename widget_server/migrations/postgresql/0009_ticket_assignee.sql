-- 0009: tickets are assigned to agents (widget_server/tickets/model.py `assign`).
--
-- `assignee` repeats the document's "assignee" (an agent id; '' when the ticket is
-- unassigned or the key is absent, as in every ticket from before assignment), written by
-- PostgresTicketStore beside the document on every add and update, so the inbox's "Mine" and
-- "Unassigned" filters are SQL and match exactly what store.summarize() matches. No ticket
-- had an assignee before this migration, so the default is every existing row's value: adding
-- the column rewrites nothing.

ALTER TABLE tickets ADD COLUMN assignee text COLLATE "C" NOT NULL DEFAULT '';

CREATE INDEX tickets_assignee_created_at ON tickets (assignee, created_at);
