-- update_import_progress semantics (SPEC §3 "Progress"), driven directly by a
-- superuser on import_logs rows it inserts itself: cumulative counts,
-- processing then completed, terminal states never move back, counts never
-- shrink, negative counts raise 22023, an empty import completes at once.
BEGIN;
SELECT plan(24);

-- Fixed ids so failures are easy to read. project_file_id needs no file row:
-- import_logs has no foreign key to the application's tables.
INSERT INTO import_logs (id, project_file_id, status, total_features) VALUES
  ('00000000-0000-0000-0000-00000000000a', 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', 'started', 10),
  ('00000000-0000-0000-0000-00000000000b', 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', 'started', 0),
  ('00000000-0000-0000-0000-00000000000c', 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', 'failed', 10),
  ('00000000-0000-0000-0000-00000000000d', 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', 'started', 5);

CREATE TEMP VIEW log_a AS
  SELECT status, imported_count, failed_count FROM import_logs
   WHERE id = '00000000-0000-0000-0000-00000000000a';

-- Cumulative counts, processing until the total is reached -----------------------
SELECT lives_ok($$SELECT update_import_progress('00000000-0000-0000-0000-00000000000a', 3, 1)$$,
                'first batch: 3 imported, 1 failed');
SELECT row_eq($$SELECT * FROM log_a$$, ROW('processing'::text, 3, 1)::record,
              'after the first batch the log is processing with 3/1');
SELECT ok((SELECT updated_at > created_at FROM import_logs
            WHERE id = '00000000-0000-0000-0000-00000000000a'),
          'the updated_at trigger moved updated_at (clock time, also within one transaction)');

SELECT lives_ok($$SELECT update_import_progress('00000000-0000-0000-0000-00000000000a', 6, 2)$$,
                'second batch reports cumulative 6 imported, 2 failed');
SELECT row_eq($$SELECT * FROM log_a$$, ROW('processing'::text, 6, 2)::record,
              'counts are cumulative (6/2, not 9/3)');

-- Counts never shrink (a late or reordered update) ---------------------------------
SELECT lives_ok($$SELECT update_import_progress('00000000-0000-0000-0000-00000000000a', 4, 1)$$,
                'an older update with smaller counts is accepted');
SELECT row_eq($$SELECT * FROM log_a$$, ROW('processing'::text, 6, 2)::record,
              'counts never shrink');

-- Optional arguments: NULL keeps, a value replaces ------------------------------------
SELECT lives_ok($$SELECT update_import_progress('00000000-0000-0000-0000-00000000000a', 6, 2,
                    p_metadata => '{"errors": [{"index": 3, "id": null, "reason": "x"}]}')$$,
                'metadata can be passed');
SELECT lives_ok($$SELECT update_import_progress('00000000-0000-0000-0000-00000000000a', 7, 2)$$,
                'a later update without metadata');
SELECT is((SELECT metadata FROM import_logs WHERE id = '00000000-0000-0000-0000-00000000000a'),
          '{"errors": [{"index": 3, "id": null, "reason": "x"}]}'::jsonb,
          'NULL metadata keeps the previous metadata');

-- Completion: imported + failed >= total ---------------------------------------------
SELECT lives_ok($$SELECT update_import_progress('00000000-0000-0000-0000-00000000000a', 8, 2)$$,
                'the last batch brings imported + failed to the total');
SELECT row_eq($$SELECT * FROM log_a$$, ROW('completed'::text, 8, 2)::record,
              'the log is completed with 8/2');

-- A terminal status never moves back, and nothing else changes either ---------------
CREATE TEMP TABLE snapshot_a AS
  SELECT * FROM import_logs WHERE id = '00000000-0000-0000-0000-00000000000a';
SELECT lives_ok($$SELECT update_import_progress('00000000-0000-0000-0000-00000000000a', 9, 3,
                    p_metadata => '{"late": true}')$$,
                'an update after completion does not raise');
SELECT is((SELECT to_jsonb(l) FROM import_logs l WHERE id = '00000000-0000-0000-0000-00000000000a'),
          (SELECT to_jsonb(s) FROM snapshot_a s),
          'an update after completion changes nothing (status, counts, metadata, updated_at)');

SELECT lives_ok($$SELECT update_import_progress('00000000-0000-0000-0000-00000000000c', 5, 5)$$,
                'an update of a failed import does not raise');
SELECT row_eq($$SELECT status, imported_count, failed_count FROM import_logs
                WHERE id = '00000000-0000-0000-0000-00000000000c'$$,
              ROW('failed'::text, 0, 0)::record,
              'failed is terminal: the status stays failed and the counts stay');

-- Negative counts ------------------------------------------------------------------
SELECT throws_ok($$SELECT update_import_progress('00000000-0000-0000-0000-00000000000d', -1, 0)$$,
                 '22023', NULL, 'a negative imported count raises 22023');
SELECT throws_ok($$SELECT update_import_progress('00000000-0000-0000-0000-00000000000d', 0, -1)$$,
                 '22023', NULL, 'a negative failed count raises 22023');
SELECT row_eq($$SELECT status, imported_count, failed_count FROM import_logs
                WHERE id = '00000000-0000-0000-0000-00000000000d'$$,
              ROW('started'::text, 0, 0)::record,
              'a rejected update leaves the log untouched');

-- An empty import completes at once --------------------------------------------------
SELECT lives_ok($$SELECT update_import_progress('00000000-0000-0000-0000-00000000000b', 0, 0)$$,
                'progress 0/0 on an import of 0 features');
SELECT row_eq($$SELECT status, imported_count, failed_count, total_features FROM import_logs
                WHERE id = '00000000-0000-0000-0000-00000000000b'$$,
              ROW('completed'::text, 0, 0, 0)::record,
              'an empty import (total 0) is completed at once');

-- An unknown log id is a no-op ----------------------------------------------------------
SELECT lives_ok($$SELECT update_import_progress('00000000-0000-0000-0000-0000000000ff', 1, 0)$$,
                'an unknown import_log_id does not raise');

-- Not callable by API roles --------------------------------------------------------------
SET LOCAL ROLE authenticated;
SELECT throws_ok($$SELECT update_import_progress('00000000-0000-0000-0000-00000000000d', 1, 0)$$,
                 '42501', NULL, 'authenticated gets 42501 calling update_import_progress');
RESET ROLE;
SET LOCAL ROLE anon;
SELECT throws_ok($$SELECT update_import_progress('00000000-0000-0000-0000-00000000000d', 1, 0)$$,
                 '42501', NULL, 'anon gets 42501 calling update_import_progress');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
