#include <string>

#include "executor/remote_exec.hpp"
#include "executor/shard_commands.hpp"
#include "metadata/metadata_cache.hpp"

namespace rollup::executor {


int64_t execute_on_all_shards(Oid relid,
                              const std::function<std::string(const std::string &shard)> &statement_for) {
    const metadata::DistTable &t = metadata::get(relid);
    std::vector<exec::Task> tasks;
    for (const metadata::ShardInfo &s : t.shards) {
        exec::Task task;
        task.nodeid = s.nodeid;
        task.sql = statement_for(s.name);
        task.write = true;
        tasks.push_back(std::move(task));
    }
    exec::execute(tasks);
    int64_t total = 0;
    for (const exec::Task &task : tasks) total += task.rows_affected;
    return total;
}

}  // namespace rollup::executor
