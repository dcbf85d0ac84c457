// Reading import_geojson's options. PostgreSQL calls only, no C++ objects:
// errors are raised with ereport directly.
#include "pg/import_options.hpp"

namespace geo_import::pg {

namespace {

constexpr const char* kOptions[] = {"collection_name", "layer_name", "source_srid", "target_srid",
                                    "on_invalid",      "batch_size", "max_errors"};
constexpr const char* kOptionNames =
    "collection_name, layer_name, source_srid, target_srid, on_invalid, batch_size, max_errors";

bool is_known_option(const char* name) {
  for (const char* option : kOptions) {
    if (strcmp(name, option) == 0) return true;
  }
  return false;
}

[[noreturn]] void unknown_option(const char* name) {
  ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("unknown option \"%s\"", name),
                  errhint("Valid options: %s.", kOptionNames)));
  pg_unreachable();
}

const char* json_type_name(const JsonbValue& value) {
  switch (value.type) {
    case jbvNull:
      return "null";
    case jbvString:
      return "a string";
    case jbvNumeric:
      return "a number";
    case jbvBool:
      return "a boolean";
    default:
      return "an object or array";
  }
}

[[noreturn]] void wrong_type(const char* key, const char* expected, const JsonbValue& value) {
  ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                  errmsg("option \"%s\" must be %s, not %s", key, expected, json_type_name(value))));
  pg_unreachable();
}

const char* string_option(const char* key, const JsonbValue& value) {
  if (value.type != jbvString) wrong_type(key, "a string", value);
  if (value.val.string.len == 0) {
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("option \"%s\" must not be empty", key)));
  }
  return pnstrdup(value.val.string.val, value.val.string.len);
}

int32 integer_option(const char* key, const JsonbValue& value, int32 min, int32 max) {
  if (value.type != jbvNumeric) wrong_type(key, "an integer", value);
  Datum number = NumericGetDatum(value.val.numeric);
  char* text = DatumGetCString(DirectFunctionCall1(numeric_out, number));
  const bool integral = DatumGetBool(
      DirectFunctionCall2(numeric_eq, number, DirectFunctionCall2(numeric_trunc, number, Int32GetDatum(0))));
  const bool in_range =
      integral &&
      DatumGetBool(DirectFunctionCall2(numeric_ge, number, DirectFunctionCall1(int4_numeric, Int32GetDatum(min)))) &&
      DatumGetBool(DirectFunctionCall2(numeric_le, number, DirectFunctionCall1(int4_numeric, Int32GetDatum(max))));
  if (!in_range) {
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("option \"%s\" must be an integer from %d to %d, not %s", key, min, max, text)));
  }
  return DatumGetInt32(DirectFunctionCall1(numeric_int4, number));
}

core::InvalidPolicy policy_option(const JsonbValue& value) {
  const char* name = string_option("on_invalid", value);
  for (core::InvalidPolicy policy :
       {core::InvalidPolicy::Repair, core::InvalidPolicy::Skip, core::InvalidPolicy::Fail}) {
    if (strcmp(name, invalid_policy_name(policy)) == 0) return policy;
  }
  ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                  errmsg("option \"on_invalid\" must be \"repair\", \"skip\" or \"fail\", not \"%s\"", name)));
  pg_unreachable();
}

}  // namespace

const char* invalid_policy_name(core::InvalidPolicy policy) {
  switch (policy) {
    case core::InvalidPolicy::Repair:
      return "repair";
    case core::InvalidPolicy::Skip:
      return "skip";
    case core::InvalidPolicy::Fail:
      return "fail";
  }
  return "repair";
}

ImportOptions parse_import_options(Jsonb* options) {
  ImportOptions result;
  if (options == nullptr) return result;
  if (!JB_ROOT_IS_OBJECT(options) || JB_ROOT_IS_SCALAR(options)) {
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("options must be a JSON object"),
                    errhint("Valid options: %s.", kOptionNames)));
  }
  JsonbIterator* iterator = JsonbIteratorInit(&options->root);
  JsonbValue key;
  JsonbValue value;
  JsonbIteratorToken token;
  while ((token = JsonbIteratorNext(&iterator, &key, true)) != WJB_DONE) {
    if (token != WJB_KEY) continue;
    token = JsonbIteratorNext(&iterator, &value, true);
    const char* name = pnstrdup(key.val.string.val, key.val.string.len);
    if (!is_known_option(name)) unknown_option(name);
    if (value.type == jbvNull) continue;
    if (strcmp(name, "collection_name") == 0) {
      result.collection_name = string_option(name, value);
    } else if (strcmp(name, "layer_name") == 0) {
      result.layer_name = string_option(name, value);
    } else if (strcmp(name, "source_srid") == 0) {
      result.source_srid = integer_option(name, value, 1, 998999);
    } else if (strcmp(name, "target_srid") == 0) {
      result.target_srid = integer_option(name, value, 1, 998999);
    } else if (strcmp(name, "on_invalid") == 0) {
      result.on_invalid = policy_option(value);
    } else if (strcmp(name, "batch_size") == 0) {
      result.batch_size = integer_option(name, value, 1, 100000);
    } else {
      result.max_errors = integer_option(name, value, 0, 100000);
    }
  }
  return result;
}

}  // namespace geo_import::pg
