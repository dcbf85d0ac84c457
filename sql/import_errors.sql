-- Bad input: a clear error with an SQLSTATE, and nothing left behind.
SELECT * FROM test_row_counts();

-- GeoJSON sent as text inside a JSON string (a file read as text) that is
-- truncated or malformed: the error says where.
SELECT test_error($$SELECT * FROM import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1',
  to_json('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[1,'::text))$$);
SELECT test_error($$SELECT * FROM import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1',
  to_json('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"a":tru},"geometry":null}]}'::text))$$);
-- Curly quotes pasted into the text: the message quotes the whole character
-- (the error and the log stay valid UTF-8).
SELECT test_error($$SELECT * FROM import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1',
  to_json('{"type": “Feature”, "properties": {}, "geometry": null}'::text))$$);
-- A malformed json value is refused by PostgreSQL's json input before the call.
SELECT test_error($$SELECT * FROM import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '{"type":"FeatureCollection","features":[')$$);

-- JSON that is not GeoJSON.
SELECT test_error($$SELECT * FROM import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '[1,2,3]')$$);
SELECT test_error($$SELECT * FROM import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '{"type":"Topology","objects":{}}')$$);
SELECT test_error($$SELECT * FROM import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '{"features":[]}')$$);
SELECT test_error($$SELECT * FROM import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '{"type":"FeatureCollection","features":{"type":"Feature"}}')$$);
SELECT test_error($$SELECT * FROM import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '{"type":"FeatureCollection"}')$$);

-- Options.
SELECT test_error($$SELECT * FROM import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '{"type":"Point","coordinates":[1,2]}', '{"layer":"x"}')$$);
SELECT test_error($$SELECT * FROM import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '{"type":"Point","coordinates":[1,2]}', '{"source_srid":"4326"}')$$);
SELECT test_error($$SELECT * FROM import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '{"type":"Point","coordinates":[1,2]}', '{"batch_size":1.5}')$$);
SELECT test_error($$SELECT * FROM import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '{"type":"Point","coordinates":[1,2]}', '{"on_invalid":"ignore"}')$$);
SELECT test_error($$SELECT * FROM import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '{"type":"Point","coordinates":[1,2]}', '[]')$$);

-- SRIDs.
SELECT test_error($$SELECT * FROM import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '{"type":"Point","coordinates":[1,2]}', '{"target_srid":990000}')$$);
SELECT test_error($$SELECT * FROM import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '{"type":"Point","coordinates":[1,2],"crs":{"type":"name","properties":{"name":"urn:example:unknown"}}}')$$);

-- NULL arguments.
SELECT test_error($$SELECT * FROM import_geojson(NULL, '{"type":"Point","coordinates":[1,2]}')$$);
SELECT test_error($$SELECT * FROM import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', NULL)$$);

-- A bad feature fails alone, with its reason and where it is.
SELECT status, total_features, imported_count, failed_count, error_summary
  FROM import_geojson('f1f1f1f1-f1f1-f1f1-f1f1-f1f1f1f1f1f1', '{"type":"FeatureCollection","features":[
    {"type":"Feature","id":"x","properties":{},"geometry":{"type":"Point","coordinates":["a",2]}},
    {"type":"Feature","properties":{},"geometry":{"type":"Hexagon","coordinates":[]}},
    {"type":"Polygon"},
    42,
    {"type":"Feature","properties":{"s":"nul\u0000here","big":1e400},"geometry":{"type":"Point","coordinates":[1,2]}}]}');
SELECT status, jsonb_pretty(metadata -> 'errors') FROM test_last_log();
SELECT properties FROM geo_features ORDER BY id DESC LIMIT 1;

-- Of all these calls only the last one added rows (one import, one feature);
-- each import that started and then failed left its log, failed, with why.
SELECT * FROM test_row_counts();
SELECT test_all_settled();
SELECT status, metadata ->> 'error' AS error FROM import_logs
 WHERE status = 'failed' ORDER BY created_at;
-- Every reason is valid UTF-8 (convert_to refuses anything else).
SELECT bool_and(convert_to(metadata ->> 'error', 'UTF8') IS NOT NULL) AS reasons_are_utf8 FROM import_logs
 WHERE status = 'failed';
