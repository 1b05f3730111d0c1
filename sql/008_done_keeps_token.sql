-- A done item keeps the claim token that finished it, so a worker that retries its completion (the reply was
-- lost with the connection) learns that its write landed, while a worker whose lease was taken over still
-- finds another token there. Only a running item must hold a lease; pending and dead items hold no token.
ALTER TABLE work_items DROP CONSTRAINT work_items_check;
ALTER TABLE work_items ADD CONSTRAINT work_items_lease_check
    CHECK (CASE state WHEN 'running' THEN claim_token IS NOT NULL AND lease_expires_at IS NOT NULL
                      WHEN 'done' THEN lease_expires_at IS NULL
                      ELSE claim_token IS NULL AND lease_expires_at IS NULL END) NOT VALID;
ALTER TABLE work_items VALIDATE CONSTRAINT work_items_lease_check;
