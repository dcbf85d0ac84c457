# The one list of sources and flags, read by the Makefile (PGXS) and by
# CMakeLists.txt (core unit tests). Keep one name per line.

# Plain C++17, no PostgreSQL headers.
CORE_SOURCES = \
	src/core/geojson_reader.cpp \
	src/core/geometry.cpp \
	src/core/geometry_validation.cpp \
	src/core/import_pipeline.cpp \
	src/core/import_report.cpp \
	src/core/json_syntax.cpp

# The PostgreSQL side.
PG_SOURCES = \
	src/pg/entry_points.cpp \
	src/pg/importer.cpp \
	src/pg/import_options.cpp \
	src/pg/access.cpp \
	src/pg/feature_writer.cpp \
	src/pg/import_log.cpp \
	src/pg/progress_worker.cpp \
	src/pg/spi.cpp

CORE_TEST_SOURCES = \
	test/core/geojson_reader_test.cpp \
	test/core/geometry_validation_test.cpp \
	test/core/import_pipeline_test.cpp \
	test/core/json_syntax_test.cpp

GEO_IMPORT_CXX_STANDARD = 17
GEO_IMPORT_CXX_WARNINGS = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-register
GEO_IMPORT_LIBS = -lgeos_c -lsimdjson
