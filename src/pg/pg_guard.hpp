// The C++/PostgreSQL boundary.
//
// A PostgreSQL error longjmps; it must never jump over a live C++ object.
// Code that holds C++ objects calls PostgreSQL only through pg_call(), which
// catches the error and rethrows it as PgError. Every fmgr entry point runs
// its body through guarded_entry(), which lets the C++ stack unwind and then
// raises the error in PostgreSQL's way.
#pragma once

#include <stdexcept>
#include <string>

#include "pg/postgres.hpp"

namespace geo_import::pg {

// A PostgreSQL error caught by pg_call(), carried across C++ frames.
class PgError : public std::exception {
 public:
  explicit PgError(ErrorData* data) : data(data) {}
  const char* what() const noexcept override { return data->message != nullptr ? data->message : "error"; }
  ErrorData* data;
};

// An error the pg layer raises from C++ code, with its SQLSTATE.
class SqlError : public std::runtime_error {
 public:
  SqlError(int sqlstate, const std::string& message, std::string detail = {}, std::string hint = {})
      : std::runtime_error(message), sqlstate(sqlstate), detail(std::move(detail)), hint(std::move(hint)) {}
  int sqlstate;
  std::string detail;
  std::string hint;
};

// Runs `body`, which may call PostgreSQL but must create no C++ object that
// has a destructor and must not throw. Returns the PostgreSQL error it
// raised, copied into the caller's memory context, or null.
template <typename Body>
ErrorData* catch_pg_error(Body&& body) {
  MemoryContext caller_context = CurrentMemoryContext;
  ErrorData* volatile error = nullptr;
  PG_TRY();
  { body(); }
  PG_CATCH();
  {
    MemoryContextSwitchTo(caller_context);
    error = CopyErrorData();
    FlushErrorState();
  }
  PG_END_TRY();
  return error;
}

// catch_pg_error, with a PostgreSQL error thrown as PgError.
template <typename Body>
void pg_call(Body&& body) {
  ErrorData* error = catch_pg_error(body);
  if (error != nullptr) throw PgError(error);
}

// Runs an entry point's body; C++ exceptions become PostgreSQL errors once
// every C++ frame of the body is gone.
Datum guarded_entry(Datum (*body)(FunctionCallInfo), FunctionCallInfo fcinfo);

}  // namespace geo_import::pg
