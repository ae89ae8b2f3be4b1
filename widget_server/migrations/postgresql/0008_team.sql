-- 0008: the team: agents, their signed-in sessions and the audit log.
--
-- Written by widget_server/team/postgres.py; every node of a scale-out install reads these
-- tables, so a sign-in holds on every node and ending a session ends it everywhere.
--
-- agents: one row per account. `document` is the whole agent as team/model.py shapes it
-- (argon2id password hash, role, two-step secret, recovery-code hashes); `name` repeats its
-- sign-in name so it stays unique.
--
-- agent_sessions: one row per signed-in browser. `id` is the SHA-256 of the cookie's random
-- token (the token is never stored); rows are deleted when the session ends (sign-out, sign
-- out everywhere, the agent disabled, an owner ending it, or the idle and absolute lifetimes).
--
-- audit_log: append-only. Rows are inserted, and deleted only by retention
-- (audit_retention_days); no code path updates one.

CREATE TABLE agents (
    id          text COLLATE "C" PRIMARY KEY,
    seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    name        text COLLATE "C" NOT NULL UNIQUE,
    document    jsonb NOT NULL
);

CREATE TABLE agent_sessions (
    id          text COLLATE "C" PRIMARY KEY,
    agent_id    text COLLATE "C" NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    csrf        text NOT NULL,
    created_at  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    ip          text NOT NULL DEFAULT '',
    user_agent  text NOT NULL DEFAULT ''
);

CREATE INDEX agent_sessions_agent ON agent_sessions (agent_id);

CREATE TABLE audit_log (
    seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        timestamptz NOT NULL,
    actor     text NOT NULL,
    agent_id  text COLLATE "C",
    ip        text NOT NULL,
    action    text COLLATE "C" NOT NULL,
    target    text NOT NULL DEFAULT '',
    detail    jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_log_at ON audit_log (at);
