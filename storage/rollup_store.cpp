#include "storage/rollup_store.hpp"

#include <algorithm>
#include <exception>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "storage/fs_util.hpp"
#include "storage/partition.hpp"

namespace meterd::storage {
namespace {

constexpr std::string_view kCoveredMagic = "meterd-rollup 1";

struct Covered {
  std::string definition;
  std::map<std::string, std::uint64_t> partitions;
};

Covered read_covered(const std::filesystem::path& file) {
  Covered c;
  std::istringstream in(fs::read_all(file));
  std::string line;
  if (!std::getline(in, line) || line != kCoveredMagic) return c;
  if (!std::getline(in, line) || !line.starts_with("definition ")) return c;
  c.definition = line.substr(11);
  while (std::getline(in, line)) {
    const auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    c.partitions[line.substr(0, space)] = std::stoull(line.substr(space + 1));
  }
  return c;
}

}  // namespace

struct RollupStore::Rollup {
  const RollupDefinition* definition = nullptr;
  std::filesystem::path root;
  std::unique_ptr<RecordTableStore> table;
  std::map<std::string, std::uint64_t> covered;  // readings partition -> newest part id seen
};

RollupStore::RollupStore(const std::filesystem::path& data_dir,
                         std::vector<RollupDefinition> definitions, const StoreOptions& options)
    : root_(data_dir / "rollups"), options_(options), definitions_(std::move(definitions)) {
  // A replaced rollup part has no version to tell it from its successor: a reader globbing the
  // files (DuckDB) must not see both for long. meterd's own readers read a partition whole in
  // moments.
  options_.superseded_grace = std::min(options_.superseded_grace, kRollupGrace);
  for (const RollupDefinition& d : definitions_) {
    auto r = std::make_unique<Rollup>();
    r->definition = &d;
    r->root = root_ / d.name;
    Covered covered = read_covered(r->root / "COVERED");
    if (!options_.read_only && covered.definition != d.text) {
      // Another definition under this name (or none yet): its rows mean something else.
      std::filesystem::remove_all(r->root);
      covered = {};
    }
    r->covered = std::move(covered.partitions);
    RecoveryReport report;
    r->table = std::make_unique<RecordTableStore>(d.spec(), r->root, options_, report);
    if (!options_.read_only && !std::filesystem::exists(r->root / "COVERED")) save_covered(*r);
    rollups_.push_back(std::move(r));
  }
}

RollupStore::~RollupStore() = default;

std::unique_ptr<RollupStore> RollupStore::open(const std::filesystem::path& data_dir,
                                               const std::string& name) {
  if (!valid_rollup_name(name)) throw std::invalid_argument("no rollup '" + name + "'");
  const auto dir = data_dir / "rollups" / name;
  const Covered covered = read_covered(dir / "COVERED");
  if (covered.definition.empty())
    throw std::invalid_argument("no rollup '" + name + "' in " + data_dir.string());
  std::vector<RollupDefinition> definitions =
      parse_rollups(name + " = " + covered.definition, (dir / "COVERED").string());
  StoreOptions options;
  options.read_only = true;
  return std::unique_ptr<RollupStore>(new RollupStore(data_dir, std::move(definitions), options));
}

const RollupDefinition* RollupStore::definition(const std::string& name) const {
  for (const auto& d : definitions_)
    if (d.name == name) return &d;
  return nullptr;
}

void RollupStore::save_covered(Rollup& r) {
  std::string text(kCoveredMagic);
  text += "\ndefinition " + r.definition->text + "\n";
  for (const auto& [partition, id] : r.covered) text += partition + " " + std::to_string(id) + "\n";
  fs::make_dirs(r.root);
  fs::atomic_replace(r.root / "COVERED", text);
}

std::map<std::string, std::uint64_t> RollupStore::newest_parts(const Store& readings) {
  std::map<std::string, std::uint64_t> newest;
  for (const PartInfo& p : readings.parts()) {
    auto& id = newest[p.partition];
    id = std::max(id, p.id);
  }
  return newest;
}

std::vector<std::string> RollupStore::behind(const Store& readings) const {
  const auto newest = newest_parts(readings);
  std::map<std::string, bool> out;
  for (const auto& r : rollups_) {
    for (const auto& [partition, id] : newest) {
      const auto it = r->covered.find(partition);
      if (it == r->covered.end() || it->second != id) out[partition] = true;
    }
    for (const auto& [partition, id] : r->covered)
      if (!newest.contains(partition)) out[partition] = true;  // dropped by retention
  }
  std::vector<std::string> list;
  for (const auto& [partition, yes] : out) list.push_back(partition);
  return list;
}

RollupStore::Computed RollupStore::due(const std::string& partition,
                                       const std::map<std::string, std::uint64_t>& newest) const {
  Computed c;
  c.partition = partition;
  const auto it = newest.find(partition);
  c.id = it == newest.end() ? 0 : it->second;
  for (const auto& r : rollups_) {
    const auto covered = r->covered.find(partition);
    if (covered == r->covered.end() ? c.id != 0 : covered->second != c.id) c.due.push_back(r.get());
  }
  return c;
}

void RollupStore::compute(const Store& readings, Computed& c) {
  for (Rollup* r : c.due) c.builders.emplace_back(*r->definition);
  MonthKey month = 0;
  if (c.due.empty() || c.id == 0 || !month_of_partition(c.partition, month)) return;
  QueryFilter filter;
  filter.tenant = tenant_of_partition(c.partition);
  filter.from = month_start(month);
  filter.to = month_start(month + 1);
  readings.query(filter, [&](const ReadingBatch& batch) {
    c.readings += batch.readings();
    for (auto& b : c.builders) b.add(batch);
  });
}

// One rollup's rows at a time, each builder freed as its rows are written: memory holds the
// builders and one rollup's rows of one partition.
RollupRefresh RollupStore::apply(Computed&& c) {
  RollupRefresh done;
  done.partition = c.partition;
  done.readings = c.readings;
  for (std::size_t i = 0; i < c.due.size(); ++i) {
    std::vector<RecordRow> rows = c.builders[i].finish();  // the builder is empty after
    done.rows += rows.size();
    c.due[i]->table->replace_partition(c.partition, std::move(rows));
    if (c.id == 0)
      c.due[i]->covered.erase(c.partition);
    else
      c.due[i]->covered[c.partition] = c.id;
    save_covered(*c.due[i]);
  }
  done.rollups = c.due.size();
  return done;
}

// Each thread reads and builds partitions on its own; writing (the tables, COVERED, `each`)
// takes turns under one lock.
std::vector<RollupRefresh> RollupStore::catch_up(
    const Store& readings, const std::vector<std::string>& partitions,
    const std::function<void(const RollupRefresh&)>& each, unsigned threads) {
  const auto newest = newest_parts(readings);
  std::vector<Computed> work_list;  // what is due, decided before any thread starts
  for (const std::string& partition : partitions) work_list.push_back(due(partition, newest));
  std::vector<RollupRefresh> out;
  std::mutex take, write;
  std::exception_ptr failure;
  std::size_t next = 0;
  auto work = [&] {
    for (;;) {
      std::size_t i;
      {
        std::lock_guard lock(take);
        if (next >= work_list.size() || failure) return;
        i = next++;
      }
      try {
        Computed c = std::move(work_list[i]);
        compute(readings, c);
        std::lock_guard lock(write);
        out.push_back(apply(std::move(c)));
        if (each) each(out.back());
      } catch (...) {
        std::lock_guard lock(take);
        if (!failure) failure = std::current_exception();
      }
    }
  };
  const auto n = std::max<std::size_t>(1, std::min<std::size_t>(threads, work_list.size()));
  std::vector<std::thread> workers;
  for (std::size_t t = 1; t < n; ++t) workers.emplace_back(work);
  work();
  for (auto& w : workers) w.join();
  if (failure) std::rethrow_exception(failure);
  return out;
}

void RollupStore::query(const std::string& name, const QueryFilter& filter,
                        const std::function<void(const std::vector<RecordRow>&)>& fn) const {
  for (const auto& r : rollups_)
    if (r->definition->name == name) return r->table->query(filter, fn);
  throw std::invalid_argument("no rollup '" + name + "'");
}

}  // namespace meterd::storage
