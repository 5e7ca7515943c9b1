#include <map>
#include <string>

#include "executor/remote_exec.hpp"
#include "executor/shard_commands.hpp"
#include "metadata/metadata_cache.hpp"

namespace rollup::executor {

namespace {
std::string fill(const std::string &tmpl, const std::string &name) {
    std::string out;
    for (size_t i = 0; i < tmpl.size(); i++) {
        if (tmpl[i] == '%' && i + 1 < tmpl.size() && tmpl[i + 1] == 's') {
            out += name;
            i++;
        } else if (tmpl[i] == '%' && i + 1 < tmpl.size() && tmpl[i + 1] == '%') {
            out += '%';
            i++;
        } else {
            out += tmpl[i];
        }
    }
    return out;
}
}  // namespace

int64_t execute_on_all_shards(Oid relid, const std::string &sql_template) {
    const metadata::DistTable &t = metadata::get(relid);
    std::map<int, std::string> by_node;
    for (const metadata::ShardInfo &s : t.shards) by_node[s.nodeid] += fill(sql_template, s.name) + ";";
    std::vector<exec::Task> tasks;
    for (auto &kv : by_node) {
        exec::Task task;
        task.nodeid = kv.first;
        task.sql = kv.second;
        task.write = true;
        tasks.push_back(std::move(task));
    }
    exec::execute(tasks);
    int64_t total = 0;
    for (const exec::Task &task : tasks) total += task.rows_affected;
    return total;
}

}  // namespace rollup::executor
