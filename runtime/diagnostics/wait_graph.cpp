// The wait-for graph and deadlock detection. See wait_graph.hpp.
#include "diagnostics/wait_graph.hpp"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>

#include "diagnostics/fiber_dump.hpp"
#include "diagnostics/fiber_inspection.hpp"
#include "diagnostics/stack_unwinder.hpp"
#include "fiber/fiber.hpp"
#include "scheduler/runtime_core.hpp"

namespace weft::detail {

namespace {

// The fiber whose part of a stack holds `marker` (a mutex holder's, from
// sync/ownership.hpp), or -1. A stack is a fiber's own, or shared through
// inline joins: a host and the children it runs, each child's part below
// its host's (pinned_view::inline_top). Of the parts that contain the
// marker, the innermost (lowest top) is the owner's. Parked and ready
// fibers have a view; hosts of a pinned inline child are named by it.
class stack_owners {
 public:
  stack_owners(const std::vector<fiber*>& fibers, const std::vector<pinned_view>& views) {
    std::unordered_map<const fiber*, std::size_t> index_of;
    for (std::size_t i = 0; i < fibers.size(); ++i) index_of.emplace(fibers[i], i);
    for (std::size_t i = 0; i < views.size(); ++i) {
      const pinned_view& v = views[i];
      if (v.stack_low == 0) continue;
      parts_.push_back({v.stack_low, v.inline_top != 0 ? v.inline_top : v.stack_high, i});
      for (const auto& [host, top] : v.hosts) {
        if (const auto found = index_of.find(host); found != index_of.end()) {
          parts_.push_back({v.stack_low, top, found->second});
        }
      }
    }
    std::sort(parts_.begin(), parts_.end(),
              [](const part& a, const part& b) { return a.low < b.low; });
  }

  [[nodiscard]] long owner_of(std::uintptr_t marker) const {
    auto it = std::upper_bound(parts_.begin(), parts_.end(), marker,
                               [](std::uintptr_t m, const part& p) { return m < p.low; });
    if (it == parts_.begin()) return -1;
    const std::uintptr_t low = std::prev(it)->low;  // the stack the marker may be on
    long best = -1;
    std::uintptr_t best_top = ~std::uintptr_t{0};
    for (auto p = std::prev(it);; --p) {
      if (marker < p->top && p->top < best_top) {
        best = static_cast<long>(p->owner);
        best_top = p->top;
      }
      if (p == parts_.begin() || std::prev(p)->low != low) break;
    }
    return best;
  }

 private:
  struct part {
    std::uintptr_t low;  ///< the stack's bottom
    std::uintptr_t top;  ///< the top of this owner's part of it
    std::size_t owner;   ///< index among the fibers listed
  };
  std::vector<part> parts_;
};

// The cycles of the graph i -> edge[i] (-1: no edge), each as indices in
// wait order, starting at the member with the smallest fiber id.
std::vector<std::vector<std::size_t>> find_cycles(const std::vector<long>& edge,
                                                  const std::vector<fiber_info>& infos) {
  enum : char { unvisited, on_path, finished };
  std::vector<char> mark(edge.size(), unvisited);
  std::vector<std::vector<std::size_t>> cycles;
  for (std::size_t start = 0; start < edge.size(); ++start) {
    std::vector<std::size_t> path;
    long at = static_cast<long>(start);
    while (at >= 0 && mark[static_cast<std::size_t>(at)] == unvisited) {
      mark[static_cast<std::size_t>(at)] = on_path;
      path.push_back(static_cast<std::size_t>(at));
      at = edge[static_cast<std::size_t>(at)];
    }
    if (at >= 0 && mark[static_cast<std::size_t>(at)] == on_path) {
      std::vector<std::size_t> cycle(
          std::find(path.begin(), path.end(), static_cast<std::size_t>(at)), path.end());
      const auto smallest = std::min_element(
          cycle.begin(), cycle.end(), [&](auto a, auto b) { return infos[a].id < infos[b].id; });
      std::rotate(cycle.begin(), smallest, cycle.end());
      cycles.push_back(std::move(cycle));
    }
    for (const std::size_t i : path) mark[i] = finished;
  }
  return cycles;
}

// What makes two sightings of a cycle the same: its fibers and their waits
// (objects and start times). Also what the periodic check remembers.
std::vector<std::uint64_t> cycle_key(const std::vector<fiber_info>& members) {
  std::vector<std::uint64_t> key;
  for (const fiber_info& f : members) {
    key.push_back(f.id.value());
    key.push_back(reinterpret_cast<std::uintptr_t>(f.wait_object));
    key.push_back(static_cast<std::uint64_t>(f.waiting_since.time_since_epoch().count()));
  }
  return key;
}

std::vector<fiber_info> members(const std::vector<std::size_t>& cycle,
                                const std::vector<fiber_info>& infos) {
  std::vector<fiber_info> out;
  for (const std::size_t i : cycle) out.push_back(infos[i]);
  return out;
}

struct graph {
  std::vector<fiber_info> infos;
  std::vector<long> edge;
};

graph build_graph(const runtime_core& core, bool stacks) {
  graph g;
  g.infos = list_fibers(core, stacks);
  std::unordered_map<std::uint64_t, long> index_of;
  for (std::size_t i = 0; i < g.infos.size(); ++i) {
    index_of.emplace(g.infos[i].id.value(), static_cast<long>(i));
  }
  g.edge.assign(g.infos.size(), -1);
  for (std::size_t i = 0; i < g.infos.size(); ++i) {
    const fiber_info& f = g.infos[i];
    if (f.state != fiber_state::parked || !f.blocked_by) continue;
    if (const auto found = index_of.find(f.blocked_by.value()); found != index_of.end()) {
      g.edge[i] = found->second;
    }
  }
  return g;
}

}  // namespace

std::vector<fiber_info> list_fibers(const runtime_core& core, bool stacks) {
  const std::vector<fiber*> fibers = core.registry.retain_all();
  struct release_on_exit {
    const std::vector<fiber*>& fibers;
    ~release_on_exit() {
      for (fiber* f : fibers) release_reference(*f);
    }
  } release{fibers};
  std::vector<fiber_info> infos;
  infos.reserve(fibers.size());
  for (const fiber* f : fibers) infos.push_back(fiber_registry::describe(*f));
  fiber_registry::resolve_blocked_by({fibers.begin(), fibers.end()}, infos);

  std::optional<stack_unwinder> unwinder;
  if (stacks) unwinder.emplace();
  const std::vector<pinned_view> views = inspect_pinned(fibers, unwinder ? &*unwinder : nullptr);
  const stack_owners owners(fibers, views);
  for (std::size_t i = 0; i < infos.size(); ++i) {
    if (views[i].holder != 0) {
      const long holder = owners.owner_of(views[i].holder);
      if (holder >= 0) infos[i].blocked_by = infos[static_cast<std::size_t>(holder)].id;
    }
    if (stacks) infos[i].stack = symbolize_frames(views[i].frames, *unwinder, false);
  }
  return infos;
}

std::vector<deadlock> find_deadlocks(const runtime_core& core) {
  const graph first = build_graph(core, false);
  std::set<std::vector<std::uint64_t>> seen;
  for (const auto& cycle : find_cycles(first.edge, first.infos)) {
    seen.insert(cycle_key(members(cycle, first.infos)));
  }
  if (seen.empty()) return {};
  const graph second = build_graph(core, true);
  std::vector<deadlock> found;
  for (const auto& cycle : find_cycles(second.edge, second.infos)) {
    deadlock d{members(cycle, second.infos)};
    if (seen.contains(cycle_key(d.cycle))) found.push_back(std::move(d));
  }
  return found;
}

deadlock_watch::deadlock_watch(const runtime_core& core, std::chrono::milliseconds period)
    : core_(core), thread_(period, [this] { check(); }) {}

void deadlock_watch::check() {
  std::ostringstream report;
  for (const deadlock& d : find_deadlocks(core_)) {
    if (!reported_.insert(cycle_key(d.cycle)).second) continue;
    write_deadlock(report, core_, d);
  }
  if (const std::string text = report.str(); !text.empty()) {
    std::fputs(text.c_str(), stderr);
    std::fflush(stderr);
  }
}

}  // namespace weft::detail
