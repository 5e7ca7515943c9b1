// Placeholder until distributed reads land.
#include "planner/reads.hpp"
namespace rollup::reads {
void init() {}
}  // namespace rollup::reads
