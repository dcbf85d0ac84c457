-- What import_geojson stores for each kind of input, and the on_invalid policies.
\set bowtie_and_point '{"type":"FeatureCollection","features":[{"type":"Feature","id":"bow","properties":{"kind":"bowtie"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[2,2],[2,0],[0,2],[0,0]]]}},{"type":"Feature","id":"pt","properties":{"kind":"point"},"geometry":{"type":"Point","coordinates":[5,5]}}]}'

CREATE FUNCTION test_import(payload json, options jsonb DEFAULT '{}')
RETURNS TABLE (status text, total integer, imported integer, failed integer, repaired integer, summary text,
               feature_index integer, feature_id text, properties jsonb, wkt text, srid integer, valid boolean)
LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  SELECT * INTO r FROM import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', payload, options);
  RETURN QUERY
    SELECT r.status, r.total_features, r.imported_count, r.failed_count, r.repaired_count, r.error_summary,
           f.feature_index, f.feature_id, f.properties, ST_AsText(f.geom), ST_SRID(f.geom), ST_IsValid(f.geom)
      FROM (SELECT) AS one LEFT JOIN geo_features f ON f.layer_id = r.layer_id
     ORDER BY f.feature_index;
END
$$;

-- skip: the point is imported, the bowtie reported with GEOS's reason.
SELECT * FROM test_import(:'bowtie_and_point', '{"on_invalid":"skip"}');
SELECT status, metadata -> 'errors' AS errors, metadata -> 'error_count' AS error_count FROM test_last_log();

-- repair (the default): both imported, the bowtie made valid and listed.
SELECT * FROM test_import(:'bowtie_and_point');
SELECT status, metadata -> 'repairs' AS repairs, metadata -> 'repaired_count' AS repaired_count FROM test_last_log();

-- fail: the whole import fails; nothing of it remains but its log (failed).
SELECT * FROM test_row_counts();
SELECT test_error(format('SELECT * FROM import_geojson(%L, %L, %L)', 'f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1',
                         :'bowtie_and_point', '{"on_invalid":"fail"}'));
SELECT * FROM test_row_counts();

-- All seven geometry types, 2D and 3D, in one collection.
SELECT * FROM test_import('{"type":"FeatureCollection","features":[
  {"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[1,2]}},
  {"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[1,2,3]}},
  {"type":"Feature","properties":{},"geometry":{"type":"MultiPoint","coordinates":[[1,2],[3,4]]}},
  {"type":"Feature","properties":{},"geometry":{"type":"LineString","coordinates":[[0,0,1],[1,1,2]]}},
  {"type":"Feature","properties":{},"geometry":{"type":"MultiLineString","coordinates":[[[0,0],[1,1]],[[2,2],[3,3]]]}},
  {"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,10],[0,0]],[[2,2],[2,4],[4,4],[4,2],[2,2]]]}},
  {"type":"Feature","properties":{},"geometry":{"type":"MultiPolygon","coordinates":[[[[0,0,5],[1,0,5],[1,1,5],[0,0,5]]],[[[5,5,5],[6,5,5],[6,6,5],[5,5,5]]]]}},
  {"type":"Feature","properties":{},"geometry":{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[1,1]},{"type":"LineString","coordinates":[[0,0],[1,0]]}]}},
  {"type":"Feature","properties":null,"geometry":null}
]}');

-- A single Feature, and a bare geometry, each import as one feature.
SELECT * FROM test_import('{"type":"Feature","id":"solo","properties":{"a":[1,{"b":null}]},"geometry":{"type":"Point","coordinates":[7,8]}}');
SELECT * FROM test_import('{"type":"LineString","coordinates":[[0,0],[3,4]]}');

-- An empty collection completes at once with total 0.
SELECT * FROM test_import('{"type":"FeatureCollection","features":[]}');
SELECT status, total_features, imported_count, failed_count FROM test_last_log();

-- Swiss LV95 (crs member) reprojected to WGS 84.
SELECT status, srid, abs(ST_X(wkt::geometry) - 7.43863242) < 1e-7 AND abs(ST_Y(wkt::geometry) - 46.95108277) < 1e-7 AS at_bern
  FROM test_import('{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::2056"}},
         "features":[{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[2600000,1200000]}}]}',
         '{"target_srid":4326}');

-- Without live progress the log is written in the import's transaction,
-- after each batch, with cumulative counts: 7 features (the third invalid)
-- in batches of 2, every update of the log row recorded.
SET geo_import.live_progress = off;
CREATE TABLE progress_seen (seen serial, status text, imported integer, failed integer);
CREATE FUNCTION record_progress() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.progress_seen (status, imported, failed) VALUES (NEW.status, NEW.imported_count, NEW.failed_count);
  RETURN NULL;
END
$$;
CREATE TRIGGER record_progress AFTER UPDATE ON import_logs FOR EACH ROW EXECUTE FUNCTION record_progress();
SELECT status, total, imported, failed FROM test_import('{"type":"FeatureCollection","features":[
  {"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[0,0]}},
  {"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[1,1]}},
  {"type":"Feature","properties":{},"geometry":{"type":"LineString","coordinates":[[1,1]]}},
  {"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[3,3]}},
  {"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[4,4]}},
  {"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[5,5]}},
  {"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[6,6]}}]}',
  '{"batch_size":2,"on_invalid":"skip"}') LIMIT 1;
SELECT status, imported, failed FROM progress_seen ORDER BY seen;
DROP TRIGGER record_progress ON import_logs;
RESET geo_import.live_progress;
