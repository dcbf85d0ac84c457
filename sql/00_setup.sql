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

-- What the extension's tables hold, for checking that nothing was left.
CREATE FUNCTION test_row_counts(OUT logs bigint, OUT collections bigint, OUT layers bigint, OUT features bigint)
LANGUAGE sql AS $$
  SELECT (SELECT count(*) FROM import_logs), (SELECT count(*) FROM feature_collections),
         (SELECT count(*) FROM layers), (SELECT count(*) FROM geo_features)
$$;
