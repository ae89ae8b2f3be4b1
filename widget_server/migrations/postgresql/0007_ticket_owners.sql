-- 0007: a signed visitor's tickets (widget_server/identity.py) are found by the user_id the
-- site signed, which new tickets keep in their document. Tickets of an email-signed visitor
-- are found through tickets_email_key (0001). Tickets opened without a user_id have none, and
-- the partial index leaves them out.

CREATE INDEX tickets_user_id ON tickets ((document ->> 'user_id'))
    WHERE document ->> 'user_id' IS NOT NULL;
