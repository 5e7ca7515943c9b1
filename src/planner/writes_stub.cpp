// Placeholder until distributed writes land.
#include "planner/writes.hpp"
namespace rollup::writes {
void init() {}
}  // namespace rollup::writes
