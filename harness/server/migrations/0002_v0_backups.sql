-- API v0 (docs/API-v0.md): the two rolling slots per user of the noah-v0 profile, in the
-- original design's table and column names, in Postgres types. `pubkey` holds the bearer
-- token's user (the design's LNURL-auth public key is replaced by the v1 tokens).
--
-- Each slot's row names the S3 object that holds its backup. Every upload goes to a fresh
-- key, and `complete_upload` switches the row to it in one transaction, so a row always
-- names a complete object of the recorded size.
--
-- There is deliberately no CHECK on `backup_version`: "at most two slots" (1..=2) is the
-- API's rule, enforced in the handlers, and the hidden broken variant that lets a third
-- slot in (`--unsafe-any-backup-version`) must be able to store one for the suite to catch.
CREATE TABLE backup_metadata (
    id             BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pubkey         TEXT        NOT NULL,
    s3_key         TEXT        NOT NULL,
    backup_size    BIGINT      NOT NULL CHECK (backup_size >= 0),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    backup_version BIGINT      NOT NULL DEFAULT 1,
    UNIQUE (pubkey, backup_version)
);

-- The sweeper asks "is this object named by a row?" for every listed key under v0/.
CREATE UNIQUE INDEX backup_metadata_s3_key ON backup_metadata (s3_key);
-- The design's index for "latest": the greatest created_at per user.
CREATE INDEX backup_metadata_created_at ON backup_metadata (created_at);

-- Per-user settings. A row appears at the first `settings` write or `complete_upload`.
CREATE TABLE backup_settings (
    pubkey         TEXT        PRIMARY KEY,
    backup_enabled BOOLEAN     NOT NULL DEFAULT FALSE,
    last_backup_at TIMESTAMPTZ
);
