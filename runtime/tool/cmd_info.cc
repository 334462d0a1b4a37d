// `dlrun info MODEL.dlc`: what an executable holds and what it needs.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "dlrt.hpp"
#include "ir/size_limits.h"
#include "runtime/tool/commands.h"

namespace dlc {
namespace {

constexpr const char* kUsage =
    "usage: dlrun info MODEL.dlc\n"
    "\n"
    "Loads and validates MODEL.dlc and prints its target, bound batch size,\n"
    "inputs with their roles and types, outputs, entry points with what they\n"
    "take, compute and update, its persistent tensors (trainable parameters and\n"
    "optimizer state) with their element counts, and the planned peak memory\n"
    "when the executable records it.\n";

const char* role_name(dlrt_role role) {
  switch (role) {
    case DLRT_ROLE_DATA: return "data";
    case DLRT_ROLE_LABEL: return "label";
    case DLRT_ROLE_LEARNING_RATE: return "learning rate";
    case DLRT_ROLE_STEP: return "step";
    default: return "";
  }
}

using Row = std::vector<std::string>;

void print_table(const std::vector<Row>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) {
      if (width.size() <= c) width.resize(c + 1, 0);
      width[c] = std::max(width[c], r[c].size());
    }
  for (const auto& r : rows) {
    std::string line = " ";
    for (size_t c = 0; c < r.size(); ++c) {
      line += " " + r[c];
      if (c + 1 < r.size()) line += std::string(width[c] - r[c].size(), ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::printf("%s\n", line.c_str());
  }
}

std::string names(const std::vector<dlrt::TensorInfo>& list) {
  std::string s;
  for (const auto& t : list) s += (s.empty() ? "" : ", ") + t.name;
  return s.empty() ? "none" : s;
}


}  // namespace

int cmd_info(int argc, char** argv) {
  std::string path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a.size() > 1 && a[0] == '-') {
      std::fprintf(stderr, "dlrun info: unknown option '%s'\n\n%s", a.c_str(), kUsage);
      return 2;
    }
    if (!path.empty()) {
      std::fprintf(stderr, "dlrun info: one model at a time ('%s' and '%s')\n", path.c_str(), a.c_str());
      return 2;
    }
    path = a;
  }
  if (path.empty()) {
    std::fprintf(stderr, "dlrun info: no model given\n\n%s", kUsage);
    return 2;
  }

  // Describing needs no executor: a cuda file is described on a machine without a GPU.
  dlrt::Model m = dlrt::Model::inspect(path);
  std::printf("%s\n", path.c_str());
  if (m.gpu_arch().empty()) {
    std::printf("target: %s\n", m.target().c_str());
  } else {
    // The cubin runs on this architecture; others compile the PTX at load.
    std::printf("target: %s (%s)\n", m.target().c_str(), m.gpu_arch().c_str());
  }
  std::printf("batch: %lld\n", static_cast<long long>(m.batch()));
  std::printf("seed: %llu\n", static_cast<unsigned long long>(m.seed()));
  if (m.data_parallel())
    std::printf("data-parallel: yes (mpirun -np N dlrun train: batch %lld per process)\n", static_cast<long long>(m.batch()));
  std::string loss = m.loss();
  if (loss.empty()) std::printf("training: none (inference only)\n");
  else std::printf("training: loss %s, default learning rate %g\n", loss.c_str(), m.default_learning_rate());

  auto inputs = m.inputs();
  std::printf("inputs: %zu\n", inputs.size());
  std::vector<Row> rows;
  for (const auto& i : inputs) rows.push_back({i.name, i.type_str(), role_name(i.role)});
  print_table(rows);

  auto outputs = m.outputs();
  std::printf("outputs: %zu\n", outputs.size());
  rows.clear();
  for (const auto& o : outputs) rows.push_back({o.name, o.type_str()});
  print_table(rows);

  auto entries = m.entries();
  std::printf("entry points: %zu\n", entries.size());
  rows.clear();
  for (const auto& e : entries) {
    size_t updates = m.entry_update_count(e);
    rows.push_back({e, "inputs: " + names(m.entry_inputs(e)), "outputs: " + names(m.entry_outputs(e)),
                    updates ? "updates " + std::to_string(updates) + " tensors" : ""});
  }
  print_table(rows);

  auto params = m.params();
  int64_t trainable = 0, trainable_elements = 0, state_elements = 0;
  rows.clear();
  for (const auto& p : params) {
    (p.trainable ? trainable_elements : state_elements) += p.numel;
    trainable += p.trainable ? 1 : 0;
    rows.push_back({p.name, p.type_str(), std::to_string(p.numel), p.trainable ? "trainable" : "state"});
  }
  std::printf("parameters: %lld trainable, %lld elements; %lld state tensors, %lld elements\n",
              static_cast<long long>(trainable), static_cast<long long>(trainable_elements),
              static_cast<long long>(params.size() - static_cast<size_t>(trainable)),
              static_cast<long long>(state_elements));
  print_table(rows);

  int64_t peak = m.peak_memory();
  if (peak >= 0) std::printf("peak memory: %s (%lld bytes, planned)\n", human_bytes(peak).c_str(), static_cast<long long>(peak));
  else std::printf("peak memory: not recorded for target %s\n", m.target().c_str());
  return 0;
}

}  // namespace dlc
