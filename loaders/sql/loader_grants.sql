-- What the loader role may do: read and add files of the registry, add landed rows and sheets
-- (never read them back: the upload page runs as this role), move a file's registry row along
-- as it lands, have a file's partition created and attached (raw.sql), append audit events;
-- nothing else. The role and database names, in braces, are filled in as quoted identifiers
-- by psycopg's sql.SQL.format (loaders/schema.py).
grant usage on schema raw, audit to {role};
grant select, insert on raw.files to {role};
revoke select on raw.sheets, raw.records from {role};
grant insert on raw.sheets, raw.records to {role};
grant update (status, row_count, error, landed_at, archive_path) on raw.files to {role};
grant execute on function
raw.create_file_partition(bigint), raw.attach_file_partition(bigint)
to {role};
grant execute on function
audit.append_event(text, text, bigint, text, text, bigint, jsonb)
to {role};
grant temporary on database {database} to {role};
