-- A large import's layer is a partition of geo_features of its own
-- (geo_import--1.0.sql, geo_import_layer_table): filled before it has an
-- index, attached when the import ends; smaller imports share a partition.
-- What that must not change: who can read what, and that a failed import
-- leaves nothing, not even an empty table. Here "large" is 2 features and
-- more (geo_import.layer_table_threshold, 10000 by default).
--
-- The owner here also has Supabase-style default privileges that are not
-- limited to schema public (ALL on new tables to anon and authenticated):
-- the worst case for a table created at run time.
BEGIN;
SET LOCAL geo_import.live_progress = off;
SET LOCAL client_min_messages = warning;
SET LOCAL geo_import.layer_table_threshold = 2;
SELECT plan(22);

ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO anon, authenticated, service_role;

CREATE TEMP TABLE imports (name text PRIMARY KEY, layer_id uuid);
INSERT INTO imports SELECT 'points', layer_id FROM public.import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1',
  '{"type":"FeatureCollection","features":[
    {"type":"Feature","properties":{"n":1},"geometry":{"type":"Point","coordinates":[1,2]}},
    {"type":"Feature","properties":{"n":2},"geometry":{"type":"Point","coordinates":[3,4]}},
    {"type":"Feature","properties":{"n":3},"geometry":{"type":"Point","coordinates":[5,6]}}]}');
INSERT INTO imports SELECT 'polygon', layer_id FROM public.import_geojson('f2f2f2f2-f2f2-f2f2-f2f2-f2f2f2f2f2f2',
  '{"type":"Polygon","coordinates":[[[0,0],[2,2],[2,0],[0,2],[0,0]]]}');
-- The partition holding `p_name`'s layer, found through geo_features' rows.
CREATE FUNCTION pg_temp.partition_of(p_name text) RETURNS regclass
LANGUAGE sql AS $$
  SELECT DISTINCT f.tableoid::regclass FROM public.geo_features f
   WHERE f.layer_id = (SELECT layer_id FROM imports WHERE name = p_name)
$$;

-- Where the rows are ------------------------------------------------------------
SELECT is((SELECT count(*)::int FROM public.geo_features
            WHERE layer_id = (SELECT layer_id FROM imports WHERE name = 'points')),
          3, 'the three points are in geo_features');
SELECT is(pg_temp.partition_of('points')::text,
          'geo_import_layers.layer_' || replace((SELECT layer_id FROM imports WHERE name = 'points')::text, '-', ''),
          'they are in their layer''s own table in schema geo_import_layers');
SELECT matches((SELECT layer_id FROM imports WHERE name = 'points')::text, '^ffffffff-.*00$',
               'the layer''s id is from the top of the uuid range, ending in 00');
SELECT is((SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE oid = pg_temp.partition_of('points')),
          format('FOR VALUES FROM (''%s'') TO (''%s'')', (SELECT layer_id FROM imports WHERE name = 'points'),
                 overlay((SELECT layer_id FROM imports WHERE name = 'points')::text, '01', 35)),
          'that table is the partition for exactly its layer');
SELECT is(pg_temp.partition_of('polygon')::text, 'geo_import_layers.shared_layers',
          'an import of one feature writes into the partition layers share');
SELECT cmp_ok((SELECT layer_id FROM imports WHERE name = 'polygon'), '<', 'ffffffff-0000-0000-0000-000000000000'::uuid,
              'its layer''s id is a random uuid below the own-table range');
SELECT is((SELECT array_agg(inhrelid::regclass::text ORDER BY inhrelid::regclass::text <> 'geo_import_layers.shared_layers')
             FROM pg_inherits WHERE inhparent = 'public.geo_features'::regclass),
          ARRAY['geo_import_layers.shared_layers', pg_temp.partition_of('points')::text],
          'geo_features has two partitions: the shared one and the large import''s');

-- Its indexes: geo_features' own, built at attach --------------------------------
SELECT is((SELECT array_agg(ip.inhparent::regclass::text ORDER BY ip.inhparent::regclass::text)
             FROM pg_index i JOIN pg_inherits ip ON ip.inhrelid = i.indexrelid
            WHERE i.indrelid = pg_temp.partition_of('points')),
          ARRAY['geo_features_geom_idx', 'geo_features_pkey'],
          'the partition has the primary key and the GiST index, as partitions of geo_features'' indexes');
SET LOCAL enable_seqscan = off;
SELECT is((SELECT feature_index FROM public.geo_features
            WHERE geom && ST_MakeEnvelope(2.5, 3.5, 3.5, 4.5, 4326)
              AND layer_id = (SELECT layer_id FROM imports WHERE name = 'points')),
          1, 'the GiST index finds the point at (3 4)');
RESET enable_seqscan;

-- Nobody but the owner reaches a partition directly ---------------------------------
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_class c, aclexplode(c.relacl) a
                       WHERE c.oid = pg_temp.partition_of('points') AND a.grantee <> c.relowner),
          'the default privileges were taken back: only the owner holds privileges on the partition');
SELECT ok((SELECT relrowsecurity FROM pg_class WHERE oid = pg_temp.partition_of('points')),
          'row level security is enabled on the partition (no policy: nobody else sees a row)');
SELECT ok(NOT has_schema_privilege('anon', 'geo_import_layers', 'USAGE')
          AND NOT has_schema_privilege('authenticated', 'geo_import_layers', 'USAGE')
          AND NOT has_schema_privilege('service_role', 'geo_import_layers', 'USAGE'),
          'anon, authenticated and service_role may not use schema geo_import_layers');
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_depend
                       WHERE classid = 'pg_class'::regclass AND objid = pg_temp.partition_of('points')
                         AND deptype = 'e'),
          'the partition is not a member of the extension, so pg_dump dumps it and its rows');

-- Read through geo_features, under its policy ----------------------------------------
SET LOCAL ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"sub":"aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa","role":"authenticated"}', true);
SELECT is((SELECT count(*)::int FROM public.geo_features), 3,
          'a member of project 1 reads its 3 features through geo_features, not project 2''s');
SELECT throws_ok(format('SELECT * FROM %s', pg_temp.partition_of('points')), '42501', NULL,
                 'but may not read the partition directly');
SELECT set_config('request.jwt.claims', '{"sub":"bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb","role":"authenticated"}', true);
SELECT is((SELECT count(*)::int FROM public.geo_features), 1, 'a member of project 2 reads its 1 feature');
RESET ROLE;

-- A failed import leaves no table behind -----------------------------------------------
SAVEPOINT failing;
SELECT throws_ok($$SELECT * FROM public.import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1',
                    '{"type":"Polygon","coordinates":[[[0,0],[2,2],[2,0],[0,2],[0,0]]]}', '{"on_invalid":"fail"}')$$,
                 '22000', NULL, 'an import with on_invalid fail and an invalid feature raises');
ROLLBACK TO SAVEPOINT failing;
SELECT is((SELECT count(*)::int FROM pg_class WHERE relnamespace = 'geo_import_layers'::regnamespace AND relkind = 'r'),
          2, 'and leaves no table behind in geo_import_layers');

-- Deleting a layer removes its features ------------------------------------------------
DELETE FROM public.layers WHERE id = (SELECT layer_id FROM imports WHERE name = 'points');
SELECT is((SELECT count(*)::int FROM public.geo_features
            WHERE layer_id = (SELECT layer_id FROM imports WHERE name = 'points')),
          0, 'deleting the layer deletes its features');
SELECT is((SELECT count(*)::int FROM public.geo_features), 1, 'the other layer''s feature stays');

-- Rows for a layer that has no partition are refused clearly -----------------------------
SELECT lives_ok($$INSERT INTO public.geo_features (layer_id, collection_id, feature_index)
                  VALUES ('00000000-0000-4000-8000-000000000000', gen_random_uuid(), 0)$$,
                'a row for any other layer goes to the shared partition');
SELECT throws_ok($$INSERT INTO public.geo_features (layer_id, collection_id, feature_index)
                   VALUES ('ffffffff-0000-4000-8000-000000000100', gen_random_uuid(), 0)$$,
                 '23514', NULL, 'a row for an own-table layer id that has no table has no partition to go to');

SELECT * FROM finish();
ROLLBACK;
