// Planner, executor and utility hooks: installed once in _PG_init.
#pragma once
namespace rollup::hooks {
void init();
// Inside this scope the shell-write guard stands aside (create_distributed_table empties the shell).
struct ShellWriteAllowed {
    ShellWriteAllowed();
    ~ShellWriteAllowed();
};
}  // namespace rollup::hooks
