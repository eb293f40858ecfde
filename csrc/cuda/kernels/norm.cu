// CUDA batch norm and local response norm.
//
// Batch norm: per-channel sums over (N, S) are chunked reductions (ops_common.cuh): block
// (c, split) sums its chunk in double with a fixed tree into the workspace, one thread per channel
// then adds the chunks in order and turns the sums into per-channel coefficients (also the running
// statistics and dgamma/dbeta), and an elementwise kernel applies them. The sums are shifted by a
// value K close to the data (the channel's first value in training, the running mean in eval), as
// the CPU kernel does, so the one-pass variance does not cancel. Deterministic, no atomics.
//
// Local response norm: one thread per element, its channel window summed directly in channel
// order (the CPU kernel's order); the backward recomputes each neighbour's base (size^2 work per
// element, no workspace).
#include "cuda/kernels/norm.h"

#include "cuda/kernels/ops_common.cuh"

namespace fastcnn::cuda {

namespace {

using detail::global_thread;
using detail::grid_threads;
using detail::kThreads;

constexpr int kSums = 4;  // s1 = sum(x-K), s2 = sum((x-K)^2), sdy = sum(dy), sdyx = sum(dy*(x-K))

// Per-channel coefficient arrays in the workspace, after the partial sums.
struct BnWorkspace {
  double* partial;  // (C, splits, kSums)
  float* coef;      // (4, C)
};

BnWorkspace bn_workspace(void* w, int64_t C, int64_t splits) {
  double* partial = static_cast<double*>(w);
  return {partial, reinterpret_cast<float*>(partial + C * splits * kSums)};
}

// Block (c, split): the chunk's shifted sums into partial[(c*splits + split)*kSums + k].
template <bool kStats, bool kGrad>
__global__ void bn_sums_kernel(const float* x, const float* dy, const float* running_mean, bool training, int64_t N,
                               int64_t C, int64_t S, int64_t splits, double* partial) {
  __shared__ double scratch[32];
  const int64_t c = blockIdx.x / splits, split = blockIdx.x % splits;
  int64_t begin, end;
  detail::chunk_range(N * S, splits, split, begin, end);
  const double K = training ? static_cast<double>(x[c * S]) : static_cast<double>(running_mean[c]);
  double s1 = 0.0, s2 = 0.0, sdy = 0.0, sdyx = 0.0;
  for (int64_t j = begin + threadIdx.x; j < end; j += blockDim.x) {
    const int64_t i = detail::channel_value_index(j, c, C, S);
    const double d = static_cast<double>(x[i]) - K;
    if (kStats) {
      s1 += d;
      s2 += d * d;
    }
    if (kGrad) {
      const float g = dy[i];
      sdy += g;
      sdyx += g * d;
    }
  }
  double* out = partial + blockIdx.x * kSums;
  if (kStats) {
    s1 = detail::block_sum(s1, scratch);
    s2 = detail::block_sum(s2, scratch);
  }
  if (kGrad) {
    sdy = detail::block_sum(sdy, scratch);
    sdyx = detail::block_sum(sdyx, scratch);
  }
  if (threadIdx.x == 0) out[0] = s1, out[1] = s2, out[2] = sdy, out[3] = sdyx;
}

// Channel c's sums: its chunks' partials in chunk order.
__device__ void channel_total(const double* partial, int64_t c, int64_t splits, double* sums) {
  for (int k = 0; k < kSums; ++k) sums[k] = 0.0;
  for (int64_t sp = 0; sp < splits; ++sp)
    for (int k = 0; k < kSums; ++k) sums[k] += partial[(c * splits + sp) * kSums + k];
}

// Training forward coefficients: coef = (mean, scale, shift) per channel; running stats updated.
__global__ void bn_forward_train_coef_kernel(const double* partial, const float* x, const float* gamma,
                                             const float* beta, float* running_mean, float* running_var,
                                             float* coef, int64_t C, int64_t S, int64_t splits, int64_t M,
                                             double momentum, double eps) {
  for (int64_t c = global_thread(); c < C; c += grid_threads()) {
    double q[kSums];
    channel_total(partial, c, splits, q);
    const double d = q[0] / M;
    const double m = static_cast<double>(x[c * S]) + d;
    const double v = q[1] / M - d * d;
    const double var = v > 0.0 ? v : 0.0;
    const double g = gamma ? static_cast<double>(gamma[c]) : 1.0;
    coef[c] = static_cast<float>(m);
    coef[C + c] = static_cast<float>(g / sqrt(var + eps));
    coef[2 * C + c] = beta ? beta[c] : 0.f;
    if (running_mean) running_mean[c] = static_cast<float>((1 - momentum) * running_mean[c] + momentum * m);
    if (running_var)
      running_var[c] = static_cast<float>((1 - momentum) * running_var[c] + momentum * var * M / (M - 1));
  }
}

// Eval forward coefficients from the running statistics.
__global__ void bn_forward_eval_coef_kernel(const float* gamma, const float* beta, const float* running_mean,
                                            const float* running_var, float* coef, int64_t C, double eps) {
  for (int64_t c = global_thread(); c < C; c += grid_threads()) {
    const double g = gamma ? static_cast<double>(gamma[c]) : 1.0;
    coef[c] = running_mean[c];
    coef[C + c] = static_cast<float>(g / sqrt(static_cast<double>(running_var[c]) + eps));
    coef[2 * C + c] = beta ? beta[c] : 0.f;
  }
}

// y = (x - mean) * scale + shift with coef = (mean, scale, shift); x, y are (N,C,S).
__global__ void bn_apply_kernel(const float* x, float* y, const float* coef, int64_t N, int64_t C, int64_t S) {
  const int64_t total = N * C * S;
  for (int64_t i = global_thread(); i < total; i += grid_threads()) {
    const int64_t c = (i / S) % C;
    y[i] = (x[i] - coef[c]) * coef[C + c] + coef[2 * C + c];
  }
}

// Backward coefficients. Training: coef = (a, mdy, mean, kx) for dx = a*(dy - mdy - (x-mean)*kx);
// eval: coef = (0, a, 0) for bn_apply_kernel on dy (dx = dy * gamma * invstd).
__global__ void bn_backward_coef_kernel(const double* partial, const float* x, const float* gamma,
                                        const float* running_mean, const float* running_var, float* dgamma,
                                        float* dbeta, float* coef, int64_t C, int64_t S, int64_t splits, int64_t M,
                                        bool training, double eps) {
  for (int64_t c = global_thread(); c < C; c += grid_threads()) {
    double q[kSums];
    channel_total(partial, c, splits, q);
    const double g = gamma ? static_cast<double>(gamma[c]) : 1.0;
    double m, invstd, sdym;  // sdym = sum(dy * (x - mean))
    if (training) {
      const double d = q[0] / M;
      const double v = q[1] / M - d * d;
      m = static_cast<double>(x[c * S]) + d;
      invstd = 1.0 / sqrt((v > 0.0 ? v : 0.0) + eps);
      sdym = q[3] - d * q[2];
    } else {
      m = running_mean[c];
      invstd = 1.0 / sqrt(static_cast<double>(running_var[c]) + eps);
      sdym = q[3];
    }
    if (dgamma) dgamma[c] = static_cast<float>(sdym * invstd);
    if (dbeta) dbeta[c] = static_cast<float>(q[2]);
    if (training) {
      coef[c] = static_cast<float>(g * invstd);
      coef[C + c] = static_cast<float>(q[2] / M);
      coef[2 * C + c] = static_cast<float>(m);
      coef[3 * C + c] = static_cast<float>(sdym * invstd * invstd / M);
    } else {
      coef[c] = 0.f;
      coef[C + c] = static_cast<float>(g * invstd);
      coef[2 * C + c] = 0.f;
    }
  }
}

__global__ void bn_apply_grad_kernel(const float* dy, const float* x, float* dx, const float* coef, int64_t N,
                                     int64_t C, int64_t S) {
  const int64_t total = N * C * S;
  for (int64_t i = global_thread(); i < total; i += grid_threads()) {
    const int64_t c = (i / S) % C;
    dx[i] = coef[c] * (dy[i] - coef[C + c] - (x[i] - coef[2 * C + c]) * coef[3 * C + c]);
  }
}

// ---- local response norm ---------------------------------------------------------------------------

// k + alpha/size * sum of x^2 over channel c's window, at one (n, s): xs points at (n, 0, s).
__device__ __forceinline__ float lrn_base(const float* xs, int64_t C, int64_t S, int64_t c, int64_t size,
                                          float alpha_n, float k) {
  const int64_t lo = c - size / 2 > 0 ? c - size / 2 : 0;
  const int64_t hi = c + (size - 1) / 2 < C - 1 ? c + (size - 1) / 2 : C - 1;
  float acc = 0.f;
  for (int64_t j = lo; j <= hi; ++j) {
    const float v = xs[j * S];
    acc += v * v;
  }
  return k + alpha_n * acc;
}

__global__ void lrn_forward_kernel(const float* x, float* y, int64_t N, int64_t C, int64_t S, int64_t size,
                                   float alpha_n, float beta, float k) {
  const int64_t total = N * C * S;
  for (int64_t i = global_thread(); i < total; i += grid_threads()) {
    const int64_t s = i % S, t = i / S, c = t % C, n = t / C;
    const float base = lrn_base(x + n * C * S + s, C, S, c, size, alpha_n, k);
    y[i] = x[i] * powf(base, -beta);
  }
}

// dx_j = dy_j d_j^(-beta) - 2 alpha beta / size * x_j * sum of t_c over c in j-(size-1)/2 .. j+size/2,
// t_c = dy_c x_c d_c^(-beta) / d_c.
__global__ void lrn_backward_kernel(const float* dy, const float* x, float* dx, int64_t N, int64_t C, int64_t S,
                                    int64_t size, float alpha_n, float beta, float k, float coef) {
  const int64_t total = N * C * S;
  for (int64_t i = global_thread(); i < total; i += grid_threads()) {
    const int64_t s = i % S, t = i / S, j = t % C, n = t / C;
    const float* xs = x + n * C * S + s;
    const float* dys = dy + n * C * S + s;
    const int64_t lo = j - (size - 1) / 2 > 0 ? j - (size - 1) / 2 : 0;
    const int64_t hi = j + size / 2 < C - 1 ? j + size / 2 : C - 1;
    float acc = 0.f;
    for (int64_t c = lo; c <= hi; ++c) {
      const float base = lrn_base(xs, C, S, c, size, alpha_n, k);
      acc += dys[c * S] * xs[c * S] * powf(base, -beta) / base;
    }
    const float own = powf(lrn_base(xs, C, S, j, size, alpha_n, k), -beta);
    dx[i] = dy[i] * own - coef * x[i] * acc;
  }
}

}  // namespace

std::size_t batch_norm_workspace_bytes(int64_t N, int64_t C, int64_t S) {
  const int64_t splits = detail::channel_splits(N * S);
  return static_cast<std::size_t>(C * splits * kSums) * sizeof(double) + static_cast<std::size_t>(4 * C) * sizeof(float);
}

void batch_norm_forward(const float* x, const float* gamma, const float* beta, float* running_mean,
                        float* running_var, float* y, int64_t N, int64_t C, int64_t S, bool training,
                        double momentum, double eps, void* workspace, cudaStream_t s) {
  const int64_t M = N * S;
  if (M <= 0 || C <= 0) return;  // nothing to normalize; running statistics stay as they are
  const int64_t splits = detail::channel_splits(M);
  const BnWorkspace w = bn_workspace(workspace, C, splits);
  if (training) {
    bn_sums_kernel<true, false><<<static_cast<unsigned>(C * splits), kThreads, 0, s>>>(x, nullptr, nullptr, true, N,
                                                                                       C, S, splits, w.partial);
    check_launch("batch_norm_sums");
    bn_forward_train_coef_kernel<<<detail::grid_for(C), kThreads, 0, s>>>(
        w.partial, x, gamma, beta, running_mean, running_var, w.coef, C, S, splits, M, momentum, eps);
    check_launch("batch_norm_train_coef");
  } else {
    bn_forward_eval_coef_kernel<<<detail::grid_for(C), kThreads, 0, s>>>(gamma, beta, running_mean, running_var,
                                                                         w.coef, C, eps);
    check_launch("batch_norm_eval_coef");
  }
  bn_apply_kernel<<<detail::grid_for(N * C * S), kThreads, 0, s>>>(x, y, w.coef, N, C, S);
  check_launch("batch_norm_apply");
}

void batch_norm_backward(const float* dy, const float* x, const float* gamma, const float* running_mean,
                         const float* running_var, float* dx, float* dgamma, float* dbeta, int64_t N, int64_t C,
                         int64_t S, bool training, double eps, void* workspace, cudaStream_t s) {
  const int64_t M = N * S;
  if (C <= 0) return;
  if (M <= 0) {  // no values: dgamma and dbeta are 0
    const std::size_t bytes = static_cast<std::size_t>(C) * sizeof(float);
    if (dgamma) check(cudaMemsetAsync(dgamma, 0, bytes, s), "batch_norm_backward");
    if (dbeta) check(cudaMemsetAsync(dbeta, 0, bytes, s), "batch_norm_backward");
    return;
  }
  const int64_t splits = detail::channel_splits(M);
  const BnWorkspace w = bn_workspace(workspace, C, splits);
  const unsigned blocks = static_cast<unsigned>(C * splits);
  if (training)
    bn_sums_kernel<true, true><<<blocks, kThreads, 0, s>>>(x, dy, running_mean, true, N, C, S, splits, w.partial);
  else
    bn_sums_kernel<false, true><<<blocks, kThreads, 0, s>>>(x, dy, running_mean, false, N, C, S, splits, w.partial);
  check_launch("batch_norm_backward_sums");
  bn_backward_coef_kernel<<<detail::grid_for(C), kThreads, 0, s>>>(w.partial, x, gamma, running_mean, running_var,
                                                                   dgamma, dbeta, w.coef, C, S, splits, M, training,
                                                                   eps);
  check_launch("batch_norm_backward_coef");
  if (training)
    bn_apply_grad_kernel<<<detail::grid_for(N * C * S), kThreads, 0, s>>>(dy, x, dx, w.coef, N, C, S);
  else
    bn_apply_kernel<<<detail::grid_for(N * C * S), kThreads, 0, s>>>(dy, dx, w.coef, N, C, S);
  check_launch("batch_norm_backward_apply");
}

void local_response_norm_forward(const float* x, float* y, int64_t N, int64_t C, int64_t S, int64_t size,
                                 float alpha, float beta, float k, cudaStream_t s) {
  const int64_t total = N * C * S;
  if (total <= 0) return;
  lrn_forward_kernel<<<detail::grid_for(total), kThreads, 0, s>>>(x, y, N, C, S, size, alpha / size, beta, k);
  check_launch("local_response_norm_forward");
}

void local_response_norm_backward(const float* dy, const float* x, float* dx, int64_t N, int64_t C, int64_t S,
                                  int64_t size, float alpha, float beta, float k, cudaStream_t s) {
  const int64_t total = N * C * S;
  if (total <= 0) return;
  const float coef = 2.f * alpha * beta / size;
  lrn_backward_kernel<<<detail::grid_for(total), kThreads, 0, s>>>(dy, x, dx, N, C, S, size, alpha / size, beta, k,
                                                                   coef);
  check_launch("local_response_norm_backward");
}

}  // namespace fastcnn::cuda
