#include "reference/ref_interpreter.h"

#include <algorithm>
#include <set>

#include "ir/error.h"

namespace dlc {

std::map<std::string, Tensor> RefInterpreter::run(const std::map<std::string, Tensor>& feeds,
                                                  const std::vector<std::string>& wanted,
                                                  const EvalContext& ctx) const {
  // Backward slice: mark the nodes the wanted values depend on.
  std::map<std::string, size_t> producer;
  for (size_t k = 0; k < g_.nodes.size(); ++k)
    for (const auto& o : g_.nodes[k].outputs) producer[o] = k;
  std::vector<bool> needed(g_.nodes.size(), false);
  std::vector<std::string> stack(wanted.begin(), wanted.end());
  std::set<std::string> seen;
  while (!stack.empty()) {
    std::string v = stack.back();
    stack.pop_back();
    if (!seen.insert(v).second) continue;
    auto it = producer.find(v);
    // A fed intermediate value stands in for its producer (fusion
    // verification feeds what earlier kernels stored).
    bool fed_intermediate = it != producer.end() && feeds.count(v) &&
                            std::find(wanted.begin(), wanted.end(), v) == wanted.end();
    if (it == producer.end() || fed_intermediate) {
      auto f = feeds.find(v);
      if (f == feeds.end()) throw Error("no value given for '" + v + "'");
      const TensorType& want = g_.type_of(v);
      if (f->second.type.dims != want.dims || f->second.numel() != want.numel())
        throw Error("value '" + v + "' has shape " + dims_str(f->second.type.dims) + ", expected " +
                    dims_str(want.dims));
      continue;
    }
    needed[it->second] = true;
    for (const auto& in : g_.nodes[it->second].inputs) stack.push_back(in);
  }

  std::map<std::string, Tensor> values;
  auto lookup = [&](const std::string& name) -> const Tensor& {
    auto it = values.find(name);
    return it != values.end() ? it->second : feeds.at(name);
  };
  // A node whose outputs are all fed need not run; one that still runs
  // (another of its outputs is wanted) must not override a fed output.
  for (size_t k = 0; k < g_.nodes.size(); ++k) {
    if (!needed[k]) continue;
    const Node& n = g_.nodes[k];
    const OpDef* def = find_op(n.op);
    if (!def || !def->eval) throw Error("node '" + n.name + "': op '" + n.op + "' has no reference kernel");
    std::vector<const Tensor*> in;
    for (const auto& i : n.inputs) in.push_back(&lookup(i));
    std::vector<Tensor> out;
    for (const auto& o : n.outputs) out.emplace_back(g_.type_of(o));
    EvalContext node_ctx = ctx;
    node_ctx.node_index = static_cast<int64_t>(k);
    def->eval(n, in, out, node_ctx);
    for (size_t i = 0; i < out.size(); ++i)
      if (!feeds.count(n.outputs[i]) || std::find(wanted.begin(), wanted.end(), n.outputs[i]) != wanted.end())
        values[n.outputs[i]] = std::move(out[i]);
  }

  std::map<std::string, Tensor> result;
  for (const auto& w : wanted) result[w] = lookup(w);
  return result;
}

}  // namespace dlc
