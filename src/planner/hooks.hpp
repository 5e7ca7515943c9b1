// Planner, executor and utility hooks: installed once in _PG_init.
#pragma once
namespace rollup::hooks {
void init();
// Inside this scope the shell-write guard stands aside (create_distributed_table empties the shell).
struct ShellWriteAllowed {
    ShellWriteAllowed();
    ~ShellWriteAllowed();
};
// Whether a ShellWriteAllowed scope is active (the write planner then leaves writes to the shell).
bool shell_write_allowed();
}  // namespace rollup::hooks
