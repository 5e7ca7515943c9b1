#include "pg/pinned_settings.hpp"

namespace rollup::pg {

int pin_settings(const Setting *settings, int n) {
    int level = NewGUCNestLevel();
    for (int i = 0; i < n; i++)
        (void) set_config_option(settings[i].name, settings[i].value, PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                                 true, 0, false);
    return level;
}

void unpin_settings(int nest_level) { AtEOXact_GUC(true, nest_level); }

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

}  // namespace rollup::pg
