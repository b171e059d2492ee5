-- Runtime-editable settings of this service (ARCHITECTURE §7): environment > stored > default.
CREATE TABLE settings (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
