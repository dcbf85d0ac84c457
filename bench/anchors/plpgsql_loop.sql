-- Anchor: the per-feature PL/pgSQL loop the app used before geo_import.
-- One feature at a time, each in an EXCEPTION block (a subtransaction), so
-- that one bad feature is counted as failed instead of aborting the import.
-- Called exactly like import_geojson (PostgREST-style, the payload as a
-- `json` bind parameter); writes into bench.plpgsql_loop_features, a
-- (LIKE public.geo_features INCLUDING ALL) table.
CREATE OR REPLACE FUNCTION bench.plpgsql_loop_import(file_id uuid, payload json)
RETURNS TABLE (imported_count integer, failed_count integer)
LANGUAGE plpgsql
AS $$
DECLARE
  v_layer_id uuid := pg_catalog.gen_random_uuid();
  v_collection_id uuid := pg_catalog.gen_random_uuid();
  v_feature json;
  v_geom public.geometry;
  v_index integer := 0;
  v_imported integer := 0;
  v_failed integer := 0;
BEGIN
  FOR v_feature IN SELECT value FROM json_array_elements(payload -> 'features') LOOP
    BEGIN
      v_geom := public.ST_GeomFromGeoJSON(v_feature -> 'geometry');
      IF NOT public.ST_IsValid(v_geom) THEN
        v_geom := public.ST_MakeValid(v_geom);
      END IF;
      INSERT INTO bench.plpgsql_loop_features (layer_id, collection_id, feature_index, feature_id, properties, geom)
      VALUES (v_layer_id, v_collection_id, v_index, v_feature ->> 'id', (v_feature -> 'properties')::jsonb, v_geom);
      v_imported := v_imported + 1;
    EXCEPTION WHEN OTHERS THEN
      v_failed := v_failed + 1;
    END;
    v_index := v_index + 1;
  END LOOP;
  RETURN QUERY SELECT v_imported, v_failed;
END
$$;
