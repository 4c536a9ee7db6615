// weft-load: the timeline (timeline.hpp): sparse histograms, their
// quantiles, merging, and the JSON form.
#include "timeline.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace weft::load {

sparse_buckets sparse_of(const std::vector<std::uint64_t>& counts) {
  sparse_buckets out;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] != 0) out.emplace_back(i, counts[i]);
  }
  return out;
}

double timeline_second::quantile(double q) const {
  // The second keeps no sum, minimum or maximum: its buckets bound them
  // (the quantile is a bucket's midpoint either way).
  histogram h;
  h.assign_bounded(latency, 0);
  return h.quantile(q);
}

void merge_timeline(std::vector<timeline_second>& into, const std::vector<timeline_second>& part) {
  if (into.size() < part.size()) {
    const std::size_t from = into.size();
    into.resize(part.size());
    for (std::size_t t = from; t < into.size(); ++t) into[t].t = t;
  }
  for (std::size_t t = 0; t < part.size(); ++t) {
    timeline_second& s = into[t];
    const timeline_second& p = part[t];
    s.requests += p.requests;
    s.errors += p.errors;
    s.users += p.users;
    s.rate += p.rate;
    sparse_buckets sum;
    std::merge(s.latency.begin(), s.latency.end(), p.latency.begin(), p.latency.end(),
               std::back_inserter(sum));
    s.latency.clear();
    for (const auto& [index, n] : sum) {  // equal indices are adjacent: add them
      if (!s.latency.empty() && s.latency.back().first == index) {
        s.latency.back().second += n;
      } else {
        s.latency.emplace_back(index, n);
      }
    }
  }
}

nlohmann::ordered_json timeline_to_json(const std::vector<timeline_second>& tl) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const timeline_second& s : tl) {
    nlohmann::ordered_json second = nlohmann::ordered_json::object();
    second["t"] = s.t;
    second["requests"] = s.requests;
    second["errors"] = s.errors;
    second["p50_us"] = s.quantile(0.5) / 1e3;
    second["p99_us"] = s.quantile(0.99) / 1e3;
    second["users"] = s.users;
    second["rate"] = s.rate;
    nlohmann::ordered_json buckets = nlohmann::ordered_json::array();
    for (const auto& [index, n] : s.latency) {
      buckets.push_back(nlohmann::ordered_json::array({std::uint64_t{index}, n}));
    }
    second["buckets"] = std::move(buckets);
    out.push_back(std::move(second));
  }
  return out;
}

}  // namespace weft::load
