# PGXS build of the geo_import extension. Sources and flags live in sources.mk.
include sources.mk

EXTENSION = geo_import
MODULE_big = geo_import
OBJS = $(CORE_SOURCES:.cpp=.o) $(PG_SOURCES:.cpp=.o)
DATA = $(wildcard geo_import--*.sql)

REGRESS = $(sort $(basename $(notdir $(wildcard sql/*.sql))))
# Isolation tests (isolationtester): specs/<name>.spec, expected/<name>.out.
# make installcheck runs them after REGRESS, in database isolation_regression.
ISOLATION = $(sort $(basename $(notdir $(wildcard specs/*.spec))))

SHLIB_LINK = $(GEO_IMPORT_LIBS) -lstdc++

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)

PG_CXXFLAGS = -std=c++$(GEO_IMPORT_CXX_STANDARD) $(GEO_IMPORT_CXX_WARNINGS) -Isrc

# No LLVM bitcode: JIT inlining has no business crossing the C++ boundary, and
# it would compile every C++ file a second time with clang.
override with_llvm = no

# Rebuild objects when a header they include changes.
override autodepend = yes

include $(PGXS)
