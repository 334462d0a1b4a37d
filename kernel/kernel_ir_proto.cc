// Kernel programs to and from their protobuf form (ir/dlc.proto KernelProgram).
//
// Reading validates every enum and index before building anything, then
// runs check_program, so a corrupt executable is an error, never a crash.
#include <map>

#include "kernel/kernel_ir.h"
#include "ir/error.h"
#include "ir/scalar_walk.h"

namespace dlc {
namespace {

// --- writing ---------------------------------------------------------------

// Operands before users, left to right, without recursion (expressions
// may be deep): the node table a recursive writer would produce.
int add_scalar(const ScalarNode* root, proto::ScalarExprProto* out, std::map<const ScalarNode*, int>* ids) {
  for (const ScalarNode* n : scalar_post_order({root})) {
    if (ids->count(n)) continue;
    auto* pn = out->add_nodes();
    pn->set_op(static_cast<int>(n->op));
    pn->set_index(n->index);
    pn->set_value(n->value);
    for (const auto& a : n->args) pn->add_args(ids->at(a.get()));
    (*ids)[n] = out->nodes_size() - 1;
  }
  return ids->at(root);
}

proto::KernelAccess access_to_proto(const Access& a) {
  proto::KernelAccess out;
  out.set_buffer(a.buffer);
  out.set_offset(a.offset);
  for (int64_t s : a.strides) out.add_strides(s);
  out.set_iota_dim(a.iota_dim);
  if (a.mask) {
    out.set_mask(true);
    out.set_mask_key(a.mask->key);
    out.set_mask_rate(a.mask->rate);
  }
  for (const auto& g : a.guards) {
    proto::KernelGuard* pg = out.add_guards();
    pg->set_offset(g.offset);
    for (int64_t c : g.coefs) pg->add_coefs(c);
    pg->set_extent(g.extent);
    pg->set_stride(g.stride);
  }
  out.set_pad(a.pad);
  return out;
}

proto::LoopKernelProto loop_to_proto(const LoopKernel& k) {
  proto::LoopKernelProto out;
  for (int64_t d : k.dims) out.add_dims(d);
  out.set_reduce_dims(k.reduce_dims);
  // One node table for all the kernel's expressions keeps shared nodes shared.
  std::map<const ScalarNode*, int> ids;
  for (const auto& r : k.reductions) {
    auto* pr = out.add_reductions();
    pr->set_op(static_cast<int>(r.op));
    pr->set_body(add_scalar(r.body.get(), out.mutable_exprs(), &ids));
  }
  for (const auto& l : k.loads) *out.add_loads() = access_to_proto(l);
  for (const auto& s : k.stores) {
    auto* ps = out.add_stores();
    *ps->mutable_at() = access_to_proto(s.at);
    ps->set_value(add_scalar(s.value.get(), out.mutable_exprs(), &ids));
    ps->set_per_element(s.per_element);
  }
  return out;
}

proto::GemmOperandProto operand_to_proto(const GemmOperand& x) {
  proto::GemmOperandProto out;
  out.set_buffer(x.buffer);
  out.set_offset(x.offset);
  out.set_ld(x.ld);
  out.set_trans(x.trans);
  out.set_batch_stride(x.batch_stride);
  return out;
}

// --- reading ---------------------------------------------------------------

[[noreturn]] void bad(const std::string& what) { throw Error("malformed kernel program: " + what); }

std::vector<SExpr> exprs_from_proto(const proto::ScalarExprProto& p) {
  std::vector<SExpr> built;
  for (const auto& pn : p.nodes()) {
    if (pn.op() < 0 || pn.op() > static_cast<int>(ScalarOp::select)) bad("unknown scalar op " + std::to_string(pn.op()));
    auto op = static_cast<ScalarOp>(pn.op());
    std::vector<SExpr> args;
    for (int a : pn.args()) {
      if (a < 0 || a >= static_cast<int>(built.size())) bad("expression refers forward");
      args.push_back(built[a]);
    }
    if (op == ScalarOp::arg) built.push_back(arg(pn.index()));
    else if (op == ScalarOp::constant) built.push_back(SExpr(pn.value()));
    else built.push_back(make(op, std::move(args)));
  }
  return built;
}

SExpr root(const std::vector<SExpr>& nodes, int index) {
  if (index < 0 || index >= static_cast<int>(nodes.size())) bad("expression root out of range");
  return nodes[index];
}

Access access_from_proto(const proto::KernelAccess& p) {
  Access a;
  a.buffer = p.buffer();
  a.offset = p.offset();
  a.strides.assign(p.strides().begin(), p.strides().end());
  a.iota_dim = p.iota_dim();
  if (p.mask()) a.mask = DropoutMask{p.mask_key(), p.mask_rate()};
  for (const auto& pg : p.guards())
    a.guards.push_back({pg.offset(), std::vector<int64_t>(pg.coefs().begin(), pg.coefs().end()), pg.extent(), pg.stride()});
  a.pad = p.pad();
  return a;
}

LoopKernel loop_from_proto(const proto::LoopKernelProto& p) {
  LoopKernel k;
  k.dims.assign(p.dims().begin(), p.dims().end());
  k.reduce_dims = p.reduce_dims();
  std::vector<SExpr> nodes = exprs_from_proto(p.exprs());
  for (const auto& r : p.reductions()) {
    if (r.op() <= static_cast<int>(ReduceOp::none) || r.op() > static_cast<int>(ReduceOp::min)) bad("unknown reduce op");
    k.reductions.push_back({static_cast<ReduceOp>(r.op()), root(nodes, r.body())});
  }
  for (const auto& l : p.loads()) k.loads.push_back(access_from_proto(l));
  for (const auto& s : p.stores())
    k.stores.push_back({access_from_proto(s.at()), root(nodes, s.value()), s.per_element()});
  return k;
}

GemmOperand operand_from_proto(const proto::GemmOperandProto& p) {
  return {p.buffer(), p.offset(), p.ld(), p.trans(), p.batch_stride()};
}

}  // namespace

namespace {

proto::ConvOperandProto conv_operand_to_proto(const ConvOperand& x) {
  proto::ConvOperandProto out;
  out.set_buffer(x.buffer);
  out.set_offset(x.offset);
  return out;
}

proto::ConvCallProto conv_to_proto(const ConvCall& c) {
  proto::ConvCallProto out;
  out.set_pass(static_cast<proto::ConvCallProto::Pass>(static_cast<int>(c.pass)));
  const ConvGeometry& g = c.geometry;
  out.set_batch(g.batch);
  out.set_channels(g.channels);
  out.set_filters(g.filters);
  for (int a = 0; a < 2; ++a) {
    out.add_image_size(g.image[a]);
    out.add_kernel(g.kernel[a]);
    out.add_out_size(g.out[a]);
    out.add_strides(g.stride[a]);
    out.add_pads(g.pad[a]);
    out.add_dilations(g.dilation[a]);
  }
  *out.mutable_image() = conv_operand_to_proto(c.image);
  *out.mutable_weight() = conv_operand_to_proto(c.weight);
  *out.mutable_result() = conv_operand_to_proto(c.result);
  out.set_generated(c.generated);
  return out;
}

ConvCall conv_from_proto(const proto::ConvCallProto& p) {
  ConvCall c;
  if (!proto::ConvCallProto::Pass_IsValid(p.pass())) bad("unknown convolution pass");
  c.pass = static_cast<ConvPass>(static_cast<int>(p.pass()));
  ConvGeometry& g = c.geometry;
  g.batch = p.batch();
  g.channels = p.channels();
  g.filters = p.filters();
  auto pair = [](const google::protobuf::RepeatedField<int64_t>& v, int64_t out[2], const char* what) {
    if (v.size() != 2) bad(std::string("convolution ") + what + " must have two values");
    out[0] = v[0];
    out[1] = v[1];
  };
  pair(p.image_size(), g.image, "image_size");
  pair(p.kernel(), g.kernel, "kernel");
  pair(p.out_size(), g.out, "out_size");
  pair(p.strides(), g.stride, "strides");
  pair(p.pads(), g.pad, "pads");
  pair(p.dilations(), g.dilation, "dilations");
  c.image = {p.image().buffer(), p.image().offset()};
  c.weight = {p.weight().buffer(), p.weight().offset()};
  c.result = {p.result().buffer(), p.result().offset()};
  c.generated = p.generated();
  return c;
}

}  // namespace

proto::KernelProgram program_to_proto(const Program& p) {
  proto::KernelProgram out;
  out.set_entry(p.entry);
  out.set_training(p.training);
  out.set_arena_bytes(p.arena_bytes);
  out.set_unplanned_bytes(p.unplanned_bytes);
  for (const auto& line : p.explain) out.add_explain(line);
  for (const auto& b : p.buffers) {
    auto* pb = out.add_buffers();
    pb->set_name(b.name);
    pb->set_kind(static_cast<int>(b.kind));
    pb->set_dtype(to_proto(b.dtype));
    for (int64_t d : b.dims) pb->add_dims(d);
    pb->set_numel(b.numel);
    pb->set_offset(b.offset);
    for (double v : b.data) pb->add_data(v);
  }
  for (const auto& s : p.steps) {
    auto* ps = out.add_steps();
    for (const auto& n : s.nodes) ps->add_nodes(n);
    for (const auto& [value, id] : s.values) {
      auto* v = ps->add_values();
      v->set_value(value);
      v->set_buffer(id);
    }
    if (auto* k = s.loop()) *ps->mutable_loop() = loop_to_proto(*k);
    if (auto* g = s.gemm()) {
      auto* pg = ps->mutable_gemm();
      pg->set_m(g->m);
      pg->set_n(g->n);
      pg->set_k(g->k);
      pg->set_batch(g->batch);
      pg->set_alpha(g->alpha);
      pg->set_beta(g->beta);
      *pg->mutable_a() = operand_to_proto(g->a);
      *pg->mutable_b() = operand_to_proto(g->b);
      *pg->mutable_c() = operand_to_proto(g->c);
      if (g->has_epilogue()) *pg->mutable_epilogue() = loop_to_proto(g->epilogue);
    }
    if (auto* c = s.copy()) {
      auto* pc = ps->mutable_copy();
      pc->set_src(c->src);
      pc->set_dst(c->dst);
      pc->set_src_offset(c->src_offset);
      pc->set_dst_offset(c->dst_offset);
      pc->set_numel(c->numel);
    }
    if (auto* r = s.all_reduce()) {
      auto* pr = ps->mutable_all_reduce();
      for (int b : r->src) pr->add_src(b);
      for (int b : r->dst) pr->add_dst(b);
    }
    if (auto* c = s.conv()) *ps->mutable_conv() = conv_to_proto(*c);
  }
  return out;
}

Program program_from_proto(const proto::KernelProgram& p) {
  Program out;
  out.entry = p.entry();
  out.training = p.training();
  out.arena_bytes = p.arena_bytes();
  out.unplanned_bytes = p.unplanned_bytes();
  out.explain.assign(p.explain().begin(), p.explain().end());
  for (const auto& pb : p.buffers()) {
    Buffer b;
    b.id = static_cast<int>(out.buffers.size());
    b.name = pb.name();
    if (pb.kind() < 0 || pb.kind() > static_cast<int>(BufferKind::constant)) bad("unknown buffer kind");
    b.kind = static_cast<BufferKind>(pb.kind());
    if (!proto::DType_IsValid(pb.dtype()) || pb.dtype() == proto::DTYPE_UNSPECIFIED) bad("bad buffer dtype");
    b.dtype = from_proto(pb.dtype());
    b.dims.assign(pb.dims().begin(), pb.dims().end());
    b.numel = pb.numel();
    b.offset = pb.offset();
    b.data.assign(pb.data().begin(), pb.data().end());
    out.buffers.push_back(std::move(b));
  }
  for (const auto& ps : p.steps()) {
    Step s;
    s.nodes.assign(ps.nodes().begin(), ps.nodes().end());
    for (const auto& v : ps.values()) s.values.emplace_back(v.value(), v.buffer());
    switch (ps.body_case()) {
      case proto::KernelStep::kLoop: s.body = loop_from_proto(ps.loop()); break;
      case proto::KernelStep::kGemm: {
        const auto& pg = ps.gemm();
        GemmCall g;
        g.m = pg.m();
        g.n = pg.n();
        g.k = pg.k();
        g.batch = pg.batch();
        g.alpha = pg.alpha();
        g.beta = pg.beta();
        g.a = operand_from_proto(pg.a());
        g.b = operand_from_proto(pg.b());
        g.c = operand_from_proto(pg.c());
        if (pg.has_epilogue()) g.epilogue = loop_from_proto(pg.epilogue());
        s.body = g;
        break;
      }
      case proto::KernelStep::kCopy: {
        const auto& pc = ps.copy();
        s.body = CopyStep{pc.src(), pc.dst(), pc.src_offset(), pc.dst_offset(), pc.numel()};
        break;
      }
      case proto::KernelStep::kAllReduce: {
        const auto& pr = ps.all_reduce();
        s.body = AllReduceStep{{pr.src().begin(), pr.src().end()}, {pr.dst().begin(), pr.dst().end()}};
        break;
      }
      case proto::KernelStep::kConv: s.body = conv_from_proto(ps.conv()); break;
      default: bad("a step has no body");
    }
    out.steps.push_back(std::move(s));
  }
  check_program(out);
  return out;
}

}  // namespace dlc
