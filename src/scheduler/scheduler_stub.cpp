// Placeholder until the scheduler lands (branch `scheduler`): nothing to register yet.
#include "scheduler/scheduler.hpp"
namespace rollup::scheduler {
void init() {}
}  // namespace rollup::scheduler
