-- A Supabase-shaped database: roles, auth.uid(), default privileges in
-- public, the Realtime publication and the app tables, then the extension.
\set ECHO none
\set QUIET on
\i test/fixtures/supabase.sql
\i test/fixtures/seed.sql
\set QUIET off
\set ECHO all
CREATE EXTENSION geo_import CASCADE;

-- Runs a statement and shows its SQLSTATE and message instead of failing.
CREATE FUNCTION test_error(statement text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE statement;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
GRANT EXECUTE ON FUNCTION test_error(text) TO PUBLIC;

-- The newest import log, once its progress worker has settled it (the
-- terminal status is written just after the import's transaction ends).
CREATE FUNCTION test_last_log() RETURNS SETOF import_logs
LANGUAGE plpgsql AS $$
DECLARE
  v_log import_logs;
BEGIN
  FOR i IN 1..500 LOOP
    SELECT * INTO v_log FROM import_logs ORDER BY created_at DESC LIMIT 1;
    EXIT WHEN v_log.status IN ('completed', 'failed');
    PERFORM pg_sleep(0.02);
  END LOOP;
  RETURN NEXT v_log;
END
$$;
GRANT EXECUTE ON FUNCTION test_last_log() TO PUBLIC;

-- Waits until no log is started or processing any more.
CREATE FUNCTION test_all_settled() RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..500 LOOP
    IF NOT EXISTS (SELECT FROM import_logs WHERE status IN ('started', 'processing')) THEN
      RETURN true;
    END IF;
    PERFORM pg_sleep(0.02);
  END LOOP;
  RETURN false;
END
$$;

-- What the extension's tables hold, for checking that nothing was left.
CREATE FUNCTION test_row_counts(OUT logs bigint, OUT collections bigint, OUT layers bigint, OUT features bigint)
LANGUAGE sql AS $$
  SELECT (SELECT count(*) FROM import_logs), (SELECT count(*) FROM feature_collections),
         (SELECT count(*) FROM layers), (SELECT count(*) FROM geo_features)
$$;
