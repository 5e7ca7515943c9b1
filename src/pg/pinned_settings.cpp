#include "pg/pinned_settings.hpp"

namespace rollup::pg {

int pin_settings(const Setting *settings, int n) {
    int level = NewGUCNestLevel();
    for (int i = 0; i < n; i++)
        (void) set_config_option(settings[i].name, settings[i].value, PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                                 true, 0, false);
    return level;
}

// Closing the level as PostgreSQL ends REFRESH MATERIALIZED VIEW (isCommit false): every setting
// changed inside goes back to what the session had, including a plain SET or set_config(..., false)
// made by code a scope ran (a target owner's trigger during a rollup run): nothing leaks to the
// caller's session.
void unpin_settings(int nest_level) { AtEOXact_GUC(false, nest_level); }

PinnedSettings::PinnedSettings(std::initializer_list<Setting> settings) {
    const Setting *s = settings.begin();
    const int n = static_cast<int>(settings.size());
    nest_level_ = call([&] { return pin_settings(s, n); });
}

PinnedSettings::~PinnedSettings() {
    // Restoring values the session held before cannot fail; should it, the error must not escape a
    // destructor (transaction abort restores the settings then).
    const int level = nest_level_;
    try {
        call([&] { unpin_settings(level); });
    } catch (...) {
    }
}

CanonicalOutputStyle::CanonicalOutputStyle()
    : date_style(DateStyle), date_order(DateOrder), interval_style(IntervalStyle), float_digits(extra_float_digits) {
    DateStyle = USE_ISO_DATES;
    DateOrder = DATEORDER_YMD;
    IntervalStyle = INTSTYLE_ISO_8601;
    extra_float_digits = 3;
}

CanonicalOutputStyle::~CanonicalOutputStyle() {
    DateStyle = date_style;
    DateOrder = date_order;
    IntervalStyle = interval_style;
    extra_float_digits = float_digits;
}

}  // namespace rollup::pg
