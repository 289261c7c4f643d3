-- One row per user: the live backup. `object_key` names the S3 object holding the blob;
-- every version gets a fresh key (except in the seed-002 unsafe mode), so the row and its
-- object are replaced together by one compare-and-set on `version`.
CREATE TABLE backups (
    user_id    TEXT        PRIMARY KEY,
    version    BIGINT      NOT NULL CHECK (version >= 1),
    object_key TEXT        NOT NULL,
    size       BIGINT      NOT NULL CHECK (size >= 0),
    sha256     TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The sweeper asks "is this object referenced?" for every listed key.
CREATE UNIQUE INDEX backups_object_key ON backups (object_key);
