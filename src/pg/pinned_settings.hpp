// Settings pinned for a scope, the way PostgreSQL applies a function's SET clause: a GUC nest level
// is opened, the values are set with GUC_ACTION_SAVE, and closing the level restores what the
// session had, also for settings that code run inside the scope changed (a trigger's SET or
// set_config never outlives the scope). Transaction or subtransaction abort closes it too, so an
// error inside leaks nothing.
//
// Used where our own code must not depend on the caller's settings: privileged blocks pin
// search_path (pg/as_superuser.hpp); the deparser pins search_path and standard_conforming_strings
// so that the SQL it prints names every object by schema and means the same on a node.
#pragma once
#include <initializer_list>
#include <utility>

#include "pg/guard.hpp"

namespace rollup::pg {

struct Setting {
    const char *name;
    const char *value;
};

// PostgreSQL-style C (may ereport): returns the nest level to pass to unpin_settings.
int pin_settings(const Setting *settings, int n);
void unpin_settings(int nest_level);

class PinnedSettings {
public:
    PinnedSettings(std::initializer_list<Setting> settings);
    ~PinnedSettings();
    PinnedSettings(const PinnedSettings &) = delete;
    PinnedSettings &operator=(const PinnedSettings &) = delete;

private:
    int nest_level_ = -1;
};

// The settings under which SQL for nodes is printed: every object outside pg_catalog is printed
// schema-qualified, string literals in the form a node with default settings reads back. Constants
// are printed under a CanonicalOutputStyle as well (below).
#define ROLLUP_NODE_SQL_SETTINGS \
    { {"search_path", "pg_catalog"}, {"standard_conforming_strings", "on"} }

// Text output of values in a style every reader gets back exactly, whatever its settings (ISO dates
// with numeric UTC offsets, never a zone abbreviation such as IST that another setting reads as
// another zone; ISO 8601 intervals; round-trip floats), whatever the user's DateStyle: hold one
// while printing values or SQL for a node, or SQL the engine reads back. It sets the output
// variables directly, for the scope only (cheap enough per row), and nests with itself.
struct CanonicalOutputStyle {
    CanonicalOutputStyle();
    ~CanonicalOutputStyle();
    CanonicalOutputStyle(const CanonicalOutputStyle &) = delete;
    CanonicalOutputStyle &operator=(const CanonicalOutputStyle &) = delete;
    int date_style, date_order, interval_style, float_digits;
};

}  // namespace rollup::pg
