// Host emulation of the CUDA conv/linear GEMM kernels (csrc/cuda/kernels/gemm.cuh), for machines
// without a GPU: the same problem builders, index maps, tile plan, load slots, micro-tile and warp
// epilogue mappings and split-K order (all from gemm_problems.h), run block by block and thread by
// thread on the CPU. Built by tests/test_cuda_conv_indexing.py with -fsanitize=address,undefined so
// any out-of-bounds gather or index overflow aborts; it also checks that every shared-memory slot is
// staged exactly once per k-step and every output element is stored exactly once.
//
// Usage: gemm_emu DIR   with DIR/spec.txt = "<op> <tensor 0|1> <has_bias 0|1> <ints...>" and the
// float32 inputs DIR/in0.bin, DIR/in1.bin (, DIR/in2.bin = bias); writes DIR/out.bin.
//   conv_forward / conv_backward_data / conv_backward_weight: 16 ints = ConvParams in field order;
//     inputs (x, w[, b]) / (dy, w[, b]) / (dy, x)
//   linear_forward / linear_dx / linear_dw: N C K; inputs (x, w[, b]) / (dy, w) / (dy, x)
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "cuda/kernels/gemm_problems.h"

using namespace fastcnn::cuda;
using namespace fastcnn::cuda::gemm;

namespace {

constexpr int kThreads = 256;  // gemm.cuh's block size
const float kUnset = std::numeric_limits<float>::quiet_NaN();

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "gemm_emu: %s\n", what.c_str());
  std::exit(2);
}

std::vector<float> read_floats(const std::string& path, int64_t count) {
  std::vector<float> v(static_cast<size_t>(count));
  std::ifstream f(path, std::ios::binary);
  if (!f) die("cannot read " + path);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(count * sizeof(float)));
  if (f.gcount() != static_cast<std::streamsize>(count * sizeof(float))) die("short file " + path);
  return v;
}

// One GEMM as the kernels run it: blocks (x: m tile, y: col tile, z: group * splits + split).
template <class Prob>
void emulate(const Prob& p, int64_t groups, bool tensor) {
  if (p.M <= 0 || p.Ng <= 0 || groups <= 0) return;
  const Plan plan = plan_gemm(p.M, p.Ng, p.depth, groups, tensor);
  const int BM = plan.bm, BN = plan.bn, BK = plan.bk;
  if (BM != tile_rows(plan.tile) || BN != tile_cols(plan.tile)) die("plan tile sizes");
  if (plan.kchunk % BK || plan.splits < 1 || (plan.splits - 1) * plan.kchunk >= std::max<int64_t>(p.depth, 1))
    die("plan split");
  const int A_PER = BM * BK / kThreads, B_PER = BN * BK / kThreads;
  const int64_t slice = groups * p.M * p.Ng;
  const int splits = static_cast<int>(plan.splits);
  std::vector<float> ws(splits > 1 ? static_cast<size_t>(splits * slice) : 0, kUnset);
  std::vector<unsigned char> stored(static_cast<size_t>(splits * slice), 0);
  auto put = [&](int g, int split, int64_t m, int col, float v) {
    const int64_t i = (static_cast<int64_t>(g) * p.M + m) * p.Ng + col;
    if (stored[static_cast<size_t>(split * slice + i)]++) die("output stored twice");
    if (splits > 1) ws[static_cast<size_t>(split * slice + i)] = v;
    else p.store(p.out_row(g, m), g, col, v);
  };

  std::vector<float> As(static_cast<size_t>(BK * BM)), Bs(static_cast<size_t>(BK * BN)), acc(static_cast<size_t>(BM * BN));
  std::vector<unsigned char> seen_a(As.size()), seen_b(Bs.size());
  for (int g = 0; g < groups; ++g)
    for (int split = 0; split < splits; ++split)
      for (int64_t m0 = 0; m0 < p.M; m0 += BM)
        for (int n0 = 0; n0 < p.Ng; n0 += BN) {
          const int64_t kbeg = split * plan.kchunk;
          const int64_t kend = std::min(kbeg + plan.kchunk, p.depth);
          const int64_t ktiles = kend > kbeg ? (kend - kbeg + BK - 1) / BK : 0;
          std::fill(acc.begin(), acc.end(), 0.0f);
          for (int64_t t = 0; t < ktiles; ++t) {
            const int64_t k0 = kbeg + t * BK;
            std::fill(seen_a.begin(), seen_a.end(), 0);
            std::fill(seen_b.begin(), seen_b.end(), 0);
            for (int tid = 0; tid < kThreads; ++tid) {  // staging, as load() + stage() per thread
              const Slot sa = load_slot(tid, BM, A_PER), sb = load_slot(tid, BN, B_PER);
              const bool a_ok = m0 + sa.r < p.M, b_ok = n0 + sb.r < p.Ng;
              const typename Prob::Row arow = p.a_row(g, a_ok ? m0 + sa.r : 0);
              const typename Prob::Col bcol = p.b_col(g, b_ok ? n0 + sb.r : 0);
              typename Prob::KIdx ka = p.k_at(k0 + sa.k);
              for (int e = 0; e < A_PER; ++e) {
                const size_t at = static_cast<size_t>((sa.k + e) * BM + sa.r);
                if (seen_a[at]++) die("A slot staged twice");
                As[at] = a_ok && k0 + sa.k + e < kend ? p.a(arow, ka) : 0.0f;
                p.k_next(ka);
              }
              typename Prob::KIdx kb = p.k_at(k0 + sb.k);
              for (int e = 0; e < B_PER; ++e) {
                const size_t at = static_cast<size_t>((sb.k + e) * BN + sb.r);
                if (seen_b[at]++) die("B slot staged twice");
                Bs[at] = b_ok && k0 + sb.k + e < kend ? p.b(bcol, kb) : 0.0f;
                p.k_next(kb);
              }
            }
            for (unsigned char s : seen_a) if (!s) die("A slot never staged");
            for (unsigned char s : seen_b) if (!s) die("B slot never staged");
            // the products (only for outputs that get stored: the rest of the tile is padding)
            const int rows = static_cast<int>(std::min<int64_t>(BM, p.M - m0)), cols = std::min(BN, p.Ng - n0);
            for (int r = 0; r < rows; ++r)
              for (int c = 0; c < cols; ++c) {
                float v = acc[static_cast<size_t>(r * BN + c)];
                for (int k = 0; k < BK; ++k) v = std::fma(As[static_cast<size_t>(k * BM + r)], Bs[static_cast<size_t>(k * BN + c)], v);
                acc[static_cast<size_t>(r * BN + c)] = v;
              }
          }
          if (!tensor) {  // gemm_simt's epilogue: thread (ty, tx) owns micro_index rows x cols
            const int TM = simt_tm(plan.tile), TN = simt_tn(plan.tile), TX = BN / TN;
            if ((BM / TM) * (BN / TN) != kThreads) die("micro-tile threads");
            for (int tid = 0; tid < kThreads; ++tid) {
              const int tx = tid % TX, ty = tid / TX;
              for (int i = 0; i < TM; ++i) {
                const int r = micro_index(ty, i, BM, TM);
                if (r < 0 || r >= BM) die("micro row outside the tile");
                if (m0 + r >= p.M) continue;
                for (int j = 0; j < TN; ++j) {
                  const int c = micro_index(tx, j, BN, TN);
                  if (c < 0 || c >= BN) die("micro col outside the tile");
                  if (n0 + c < p.Ng) put(g, split, m0 + r, n0 + c, acc[static_cast<size_t>(r * BN + c)]);
                }
              }
            }
          } else {  // gemm_wmma's epilogue: warp (wm, wn), fragment (i, j), lane -> row l%16, cols l/16 + 2t
            const WarpLayout L = wmma_layout(plan.tile);
            if (L.wm * L.wn * 32 != kThreads || L.wm * L.fm * 16 != BM || L.wn * L.fn * 16 != BN) die("warp layout");
            for (int warp = 0; warp < kThreads / 32; ++warp)
              for (int lane = 0; lane < 32; ++lane)
                for (int i = 0; i < L.fm; ++i)
                  for (int j = 0; j < L.fn; ++j) {
                    const int wm = warp / L.wn, wn = warp % L.wn;
                    const int r = (wm * L.fm + i) * 16 + lane % 16;
                    if (m0 + r >= p.M) continue;
                    for (int t = 0; t < 8; ++t) {
                      const int c = (wn * L.fn + j) * 16 + lane / 16 + 2 * t;
                      if (n0 + c < p.Ng) put(g, split, m0 + r, n0 + c, acc[static_cast<size_t>(r * BN + c)]);
                    }
                  }
          }
        }
  for (unsigned char s : stored)
    if (s != 1) die("output element not stored exactly once");
  if (splits > 1) {  // split_sum: chunks added in order
    for (int64_t i = 0; i < slice; ++i) {
      float s = 0.0f;
      for (int c = 0; c < splits; ++c) s += ws[static_cast<size_t>(c * slice + i)];
      const int64_t gm = i / p.Ng, m = gm % p.M;
      const int col = static_cast<int>(i - gm * p.Ng), g = static_cast<int>(gm / p.M);
      p.store(p.out_row(g, m), g, col, s);
    }
  }
}

}  // namespace

// idx3 (32-bit fast path and 64-bit path) and idx3_next against plain 64-bit arithmetic.
void check_idx3() {
  const int64_t starts[] = {0, 1, 12345, (int64_t(1) << 31) - 40, (int64_t(1) << 33) + 7, (int64_t(1) << 40) - 3};
  const int extents[][2] = {{1, 1}, {3, 5}, {7, 1}, {1, 9}, {1000, 999}, {46341, 46341}};
  for (const auto& e : extents)
    for (int64_t start : starts) {
      Idx3 it = idx3(start, e[0], e[1]);
      for (int64_t kk = start; kk < start + 100; ++kk) {
        const int64_t bc = int64_t(e[0]) * e[1];
        const Idx3 d = idx3(kk, e[0], e[1]);
        if (d.a != kk / bc || d.b != (kk % bc) / e[1] || d.c != kk % e[1]) die("idx3 decomposition");
        if (it.a != d.a || it.b != d.b || it.c != d.c) die("idx3_next stepping");
        idx3_next(it, e[0], e[1]);
      }
    }
}

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--selftest") {
    check_idx3();
    return 0;
  }
  if (argc != 2) die("usage: gemm_emu DIR | --selftest");
  const std::string dir = argv[1];
  std::ifstream spec(dir + "/spec.txt");
  std::string op;
  int tensor = 0, has_bias = 0;
  spec >> op >> tensor >> has_bias;
  std::vector<int64_t> v;
  for (int64_t x; spec >> x;) v.push_back(x);
  auto in = [&](int i, int64_t n) { return read_floats(dir + "/in" + std::to_string(i) + ".bin", n); };
  std::vector<float> out;

  if (op.rfind("conv_", 0) == 0) {
    if (v.size() != 16) die("conv needs 16 ints");
    const ConvParams p{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]};
    const int64_t xs = p.N * p.C * p.H * p.W, ys = p.N * p.K * p.P * p.Q, wsz = p.K * (p.C / p.groups) * p.R * p.S;
    if (op == "conv_forward") {
      const auto x = in(0, xs), w = in(1, wsz);
      const auto b = has_bias ? in(2, p.K) : std::vector<float>();
      out.assign(static_cast<size_t>(ys), kUnset);
      emulate(conv_forward_gemm(p, x.data(), w.data(), has_bias ? b.data() : nullptr, out.data()), p.groups, tensor);
    } else if (op == "conv_backward_data") {
      const auto dy = in(0, ys), w = in(1, wsz);
      const auto b = has_bias ? in(2, p.C) : std::vector<float>();
      out.assign(static_cast<size_t>(xs), kUnset);
      for (const ConvGemm& ph : conv_backward_data_gemms(p, dy.data(), w.data(), has_bias ? b.data() : nullptr, out.data()))
        emulate(ph, p.groups, tensor);
    } else if (op == "conv_backward_weight") {
      const auto dy = in(0, ys), x = in(1, xs);
      out.assign(static_cast<size_t>(wsz), kUnset);
      emulate(conv_backward_weight_gemm(p, dy.data(), x.data(), out.data()), p.groups, tensor);
    } else {
      die("unknown op " + op);
    }
  } else {
    if (v.size() != 3) die("linear needs N C K");
    const int64_t N = v[0], C = v[1], K = v[2];
    if (op == "linear_forward") {
      const auto x = in(0, N * C), w = in(1, K * C);
      const auto b = has_bias ? in(2, K) : std::vector<float>();
      out.assign(static_cast<size_t>(N * K), kUnset);
      emulate(linear_forward_gemm(x.data(), w.data(), has_bias ? b.data() : nullptr, out.data(), N, C, K), 1, tensor);
    } else if (op == "linear_dx") {
      const auto dy = in(0, N * K), w = in(1, K * C);
      out.assign(static_cast<size_t>(N * C), kUnset);
      emulate(linear_dx_gemm(dy.data(), w.data(), out.data(), N, C, K), 1, tensor);
    } else if (op == "linear_dw") {
      const auto dy = in(0, N * K), x = in(1, N * C);
      out.assign(static_cast<size_t>(K * C), kUnset);
      emulate(linear_dw_gemm(dy.data(), x.data(), out.data(), N, C, K), 1, tensor);
    } else {
      die("unknown op " + op);
    }
  }
  std::ofstream f(dir + "/out.bin", std::ios::binary);
  f.write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size() * sizeof(float)));
  return f ? 0 : 2;
}
