// Kernel names and the per-step summary of a kernel trace (include/klab/kernel_trace.hpp).
#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "klab/kernel_trace.hpp"

namespace klab::bench {

namespace {

std::string demangle(std::string_view name) {
  const std::string owned(name);
  int status = 0;
  const std::unique_ptr<char, decltype(&std::free)> out(
      abi::__cxa_demangle(owned.c_str(), nullptr, nullptr, &status), &std::free);
  return status == 0 && out ? std::string(out.get()) : owned;
}

constexpr std::string_view kAnonymous = "(anonymous namespace)";

bool ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// "a::b::f<c::T, 4>" -> "f<T, 4>": every qualifier (an identifier or "(anonymous namespace)"
// followed by "::") goes.
std::string drop_qualifiers(const std::string& s) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t j = i;
    if (s.compare(i, kAnonymous.size(), kAnonymous) == 0) {
      j = i + kAnonymous.size();
    } else {
      while (j < s.size() && ident_char(s[j])) ++j;
    }
    if (j > i && s.compare(j, 2, "::") == 0) {
      i = j + 2;  // a qualifier: skip it
      continue;
    }
    if (j > i) {
      out.append(s, i, j - i);
      i = j;
    } else {
      out.push_back(s[i++]);
    }
  }
  return out;
}

// Everything before the parameter list, without a leading return type.
std::string signature_head(const std::string& s) {
  int depth = 0;
  std::size_t cut = s.size(), name_start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '<') ++depth;
    if (c == '>') --depth;
    if (depth != 0) continue;
    if (c == ' ') name_start = i + 1;  // "void f<...>": the return type ends at a top-level space
    if (c != '(') continue;
    if (s.compare(i, kAnonymous.size(), kAnonymous) == 0) {
      i += kAnonymous.size() - 1;
      continue;
    }
    cut = i;
    break;
  }
  if (name_start > cut) name_start = 0;
  return s.substr(name_start, cut - name_start);
}

struct Acc {
  double launches = 0, busy = 0, advance = 0, idle = 0, overlap = 0;
};

double us(std::uint64_t ns) {
  return static_cast<double>(ns) * 1e-3;
}

// A kernel of one step: where it sits, and its overlap with the kernels before it.
struct StepKernel {
  TimelineKernel k;
  double overlap_us = 0;
};

// One step's kernels (sorted by start) walked once: each kernel's advance of the step's end,
// the idle time before it and its overlap with earlier kernels.
struct Walk {
  std::vector<StepKernel> kernels;
  double span = 0, idle = 0;
};

Walk walk_step(std::span<const KernelSpan* const> ks) {
  Walk w;
  const std::uint64_t t0 = ks.front()->start_ns;
  std::uint64_t end = t0;  // the latest end so far
  for (const KernelSpan* k : ks) {
    const std::uint64_t idle = k->start_ns > end ? k->start_ns - end : 0;
    const std::uint64_t advance = k->end_ns > end ? k->end_ns - end : 0;
    const std::uint64_t overlap_end = std::min(end, k->end_ns);
    const std::uint64_t overlap = overlap_end > k->start_ns ? overlap_end - k->start_ns : 0;
    w.kernels.push_back(
        {{timeline_label(*k), us(k->start_ns - t0), us(k->end_ns - t0), us(advance), us(idle)},
         us(overlap)});
    w.idle += us(idle);
    end = std::max(end, k->end_ns);
  }
  w.span = us(end - t0);
  return w;
}

}  // namespace

std::string short_kernel_name(std::string_view name, std::size_t max_chars) {
  std::string s = drop_qualifiers(signature_head(demangle(name)));
  if (s.size() > max_chars && max_chars > 3) s = s.substr(0, max_chars - 3) + "...";
  return s;
}

std::string timeline_label(const KernelSpan& k) {
  const long long blocks = static_cast<long long>(k.grid[0]) * k.grid[1] * k.grid[2];
  const long long threads = static_cast<long long>(k.block[0]) * k.block[1] * k.block[2];
  std::string label = k.name + " [" + std::to_string(blocks) + "x" + std::to_string(threads);
  if (k.cluster > 1) label += " c" + std::to_string(k.cluster);
  return label + "]";
}

Timeline summarize_steps(std::span<const KernelSpan> spans, std::size_t min_kernels) {
  std::map<std::uint32_t, std::vector<const KernelSpan*>> by_launch;
  for (const KernelSpan& k : spans) by_launch[k.launch].push_back(&k);
  std::vector<Walk> walks;
  for (auto& [launch, ks] : by_launch) {
    if (ks.size() < std::max<std::size_t>(min_kernels, 1)) continue;
    std::stable_sort(ks.begin(), ks.end(), [](const KernelSpan* a, const KernelSpan* b) {
      return a->start_ns < b->start_ns;
    });
    walks.push_back(walk_step(ks));
  }
  Timeline t;
  t.steps = walks.size();
  if (walks.empty()) return t;

  std::map<std::string, Acc> acc;
  double kernels = 0, idle = 0;
  for (const Walk& w : walks) {
    kernels += static_cast<double>(w.kernels.size());
    idle += w.idle;
    for (const auto& [k, overlap] : w.kernels) {
      Acc& a = acc[k.label];
      a.launches += 1;
      a.busy += k.end_us - k.start_us;
      a.advance += k.advance_us;
      a.idle += k.idle_us;
      a.overlap += overlap;
    }
  }
  const double n = static_cast<double>(walks.size());
  t.kernels = kernels / n;
  t.idle_us = idle / n;
  for (const auto& [label, a] : acc)
    t.rows.push_back({label, a.launches / n, a.busy / n, a.advance / n, a.idle / n, a.overlap / n});
  std::sort(t.rows.begin(), t.rows.end(),
            [](const TimelineRow& a, const TimelineRow& b) { return a.advance_us > b.advance_us; });

  std::vector<std::size_t> order(walks.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  const auto mid = order.begin() + static_cast<std::ptrdiff_t>(order.size() / 2);
  std::nth_element(order.begin(), mid, order.end(),
                   [&](std::size_t a, std::size_t b) { return walks[a].span < walks[b].span; });
  t.span_us = walks[*mid].span;
  for (const StepKernel& k : walks[*mid].kernels) t.median_step.push_back(k.k);
  return t;
}

}  // namespace klab::bench
