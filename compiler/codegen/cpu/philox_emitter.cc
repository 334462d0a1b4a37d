#include "compiler/codegen/cpu/philox_emitter.h"

#include <array>

#include "ir/philox.h"

namespace dlc::cpu {
namespace {

// Random123's constants, as in ir/philox.cc.
constexpr uint32_t kM0 = 0xD2511F53, kM1 = 0xCD9E8D57;
constexpr uint32_t kW0 = 0x9E3779B9, kW1 = 0xBB67AE85;

using Words = std::array<llvm::Value*, 4>;

llvm::Value* lo32(llvm::IRBuilderBase& b, llvm::Value* x) { return b.CreateTrunc(x, b.getInt32Ty()); }
llvm::Value* hi32(llvm::IRBuilderBase& b, llvm::Value* x) { return lo32(b, b.CreateLShr(x, 32)); }

/// One Philox round: the 32x32 -> 64 bit products, then the word shuffle.
Words round(llvm::IRBuilderBase& b, const Words& c, llvm::Value* k0, llvm::Value* k1) {
  llvm::Value* p0 = b.CreateMul(b.CreateZExt(c[0], b.getInt64Ty()), b.getInt64(kM0));
  llvm::Value* p1 = b.CreateMul(b.CreateZExt(c[2], b.getInt64Ty()), b.getInt64(kM1));
  return {b.CreateXor(b.CreateXor(hi32(b, p1), c[1]), k0), lo32(b, p1),
          b.CreateXor(b.CreateXor(hi32(b, p0), c[3]), k1), lo32(b, p0)};
}

}  // namespace

llvm::Value* emit_dropout_keep(llvm::IRBuilderBase& b, const DropoutMask& mask, llvm::Value* seed, llvm::Value* step,
                               llvm::Value* index, llvm::Type* as) {
  // key = philox_key(dropout_philox_key(seed, node key)); the mix of the
  // node key is a compile-time constant.
  llvm::Value* key = b.CreateXor(seed, b.getInt64(mix64(mask.key)));
  llvm::Value* k0 = lo32(b, key);
  llvm::Value* k1 = hi32(b, key);
  llvm::Value* block = b.CreateLShr(index, 2);  // four elements share one Philox call
  Words c = {lo32(b, block), hi32(b, block), lo32(b, step), hi32(b, step)};
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 = b.CreateAdd(k0, b.getInt32(kW0));
      k1 = b.CreateAdd(k1, b.getInt32(kW1));
    }
    c = round(b, c, k0, k1);
  }
  llvm::Value* lane = lo32(b, b.CreateAnd(index, 3));
  llvm::Value* word = c[0];
  for (uint32_t i = 1; i < 4; ++i) word = b.CreateSelect(b.CreateICmpEQ(lane, b.getInt32(i)), c[i], word);
  // uniform_float: the top 24 bits times 2^-24, exact in f32.
  llvm::Value* u = b.CreateFMul(b.CreateUIToFP(b.CreateLShr(word, 8), b.getFloatTy()),
                                llvm::ConstantFP::get(b.getFloatTy(), 0x1p-24));
  llvm::Value* keep = b.CreateFCmpOGE(u, llvm::ConstantFP::get(b.getFloatTy(), mask.rate));
  return b.CreateUIToFP(keep, as);
}

}  // namespace dlc::cpu
