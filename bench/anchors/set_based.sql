-- Anchor: set-based SQL. What a SQL user writes to import a FeatureCollection
-- without an extension: json_array_elements over the features,
-- ST_GeomFromGeoJSON, ST_IsValid, and ST_MakeValid for what is invalid.
-- Called exactly like import_geojson (PostgREST-style, the payload as a
-- `json` bind parameter); writes into bench.set_based_features, a
-- (LIKE public.geo_features INCLUDING ALL) table: same columns, identity,
-- primary key, btree on layer_id and GiST on geom.
CREATE OR REPLACE FUNCTION bench.set_based_import(file_id uuid, payload json)
RETURNS TABLE (imported_count bigint)
LANGUAGE sql
AS $$
  WITH ids AS (
    SELECT pg_catalog.gen_random_uuid() AS layer_id, pg_catalog.gen_random_uuid() AS collection_id
  ), inserted AS (
    INSERT INTO bench.set_based_features (layer_id, collection_id, feature_index, feature_id, properties, geom)
    SELECT ids.layer_id, ids.collection_id, (f.ordinality - 1)::int, f.value ->> 'id',
           (f.value -> 'properties')::jsonb,
           CASE WHEN public.ST_IsValid(g.geom) THEN g.geom ELSE public.ST_MakeValid(g.geom) END
      FROM ids,
           json_array_elements(payload -> 'features') WITH ORDINALITY AS f(value, ordinality),
           -- OFFSET 0 keeps the subquery from being flattened, so each
           -- geometry is parsed once, not once per reference in the CASE.
           LATERAL (SELECT public.ST_GeomFromGeoJSON(f.value -> 'geometry') AS geom OFFSET 0) AS g
    RETURNING 1
  )
  SELECT count(*) FROM inserted
$$;
