// GpuSampler: the device-side sampler state (penalty history, workspace, uniform draws) and the
// host-side random streams.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <string>

#include "cuda/sampling/sampling_params.hpp"
#include "klab/buffer.hpp"
#include "klab/cuda/check.hpp"
#include "klab/cuda/sampling.hpp"

namespace klab::cuda {

namespace {

constexpr std::string_view kOp = "GpuSampler";

// Page-locked host memory, so the uniform and id copies are truly asynchronous.
template <class T>
class Pinned {
 public:
  explicit Pinned(std::size_t n) {
    void* p = nullptr;
    check(cudaMallocHost(&p, std::max<std::size_t>(n, 1) * sizeof(T)), "cudaMallocHost");
    p_.reset(static_cast<T*>(p));
  }
  T* data() const { return p_.get(); }

 private:
  struct Free {
    void operator()(T* p) const { cudaFreeHost(p); }
  };
  std::unique_ptr<T, Free> p_;
};

// A zeroed device array of n elements of T (at least one, so the pointer is never null).
template <class T>
DeviceBuffer zeroed(std::int64_t n) {
  DeviceBuffer b(static_cast<std::size_t>(std::max<std::int64_t>(n, 1)) * sizeof(T));
  b.fill_bytes(0);
  return b;
}

bool penalties_on(const SamplerParams& p) {
  return p.repeat_last_n != 0 &&
         (p.repeat_penalty != 1.0f || p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f);
}

}  // namespace

struct GpuSampler::State {
  SamplerParams params;
  std::int64_t vocab, max_batch;
  bool penalties;
  int window;  // ring length; 0: every accepted token counts (repeat_last_n = -1)
  DeviceBuffer counts, ring, fill, head;
  DeviceBuffer scratch, partial_max, partial_idx, tickets;
  DeviceBuffer uniforms, ids;
  Pinned<double> staged_uniforms;
  Pinned<std::int32_t> host_ids;
  std::vector<std::uint64_t> seeds;
  std::vector<std::mt19937_64> rngs;

  State(std::int64_t v, std::int64_t b, SamplerParams p)
      : params(p),
        vocab(v),
        max_batch(b),
        penalties(penalties_on(p)),
        window(penalties && p.repeat_last_n > 0 ? p.repeat_last_n : 0),
        counts(zeroed<std::int32_t>(penalties ? b * v : 0)),
        ring(zeroed<std::int32_t>(b * window)),
        fill(zeroed<std::int32_t>(b)),
        head(zeroed<std::int32_t>(b)),
        scratch(zeroed<float>(b * v)),
        partial_max(zeroed<float>(b * kSampleMaxSplit)),
        partial_idx(zeroed<std::int32_t>(b * kSampleMaxSplit)),
        tickets(zeroed<std::uint32_t>(b)),
        uniforms(zeroed<double>(b)),
        ids(zeroed<std::int32_t>(b)),
        staged_uniforms(static_cast<std::size_t>(b)),
        host_ids(static_cast<std::size_t>(b)) {
    for (std::int64_t r = 0; r < b; ++r) {
      seeds.push_back(p.seed + static_cast<std::uint64_t>(r));
      rngs.emplace_back(seeds.back());
    }
  }

  sampling::HistoryParams history() const {
    return {.counts = static_cast<std::int32_t*>(counts.data()),
            .ring = static_cast<std::int32_t*>(ring.data()),
            .fill = static_cast<std::int32_t*>(fill.data()),
            .head = static_cast<std::int32_t*>(head.data()),
            .vocab = static_cast<int>(vocab),
            .window = window};
  }

  void check_row(std::int64_t row) const {
    check_arg(
        row >= 0 && row < max_batch, kOp, "row",
        "expected a row in [0, " + std::to_string(max_batch) + "), got " + std::to_string(row));
  }
};

GpuSampler::GpuSampler(std::int64_t vocab, std::int64_t max_batch, SamplerParams params) {
  static_cast<void>(Sampler{params});  // the CPU sampler's parameter checks
  check_arg(
      vocab >= 1 && vocab <= INT32_MAX / 2, kOp, "vocab",
      "expected 1 <= vocab <= " + std::to_string(INT32_MAX / 2) + ", got " + std::to_string(vocab));
  check_arg(max_batch >= 1 && max_batch <= 65535, kOp, "max_batch",
            "expected 1 <= max_batch <= 65535, got " + std::to_string(max_batch));
  check_arg(
      params.repeat_last_n <= (1 << 20), kOp, "repeat_last_n",
      "at most 1048576 tokens of history on the GPU, got " + std::to_string(params.repeat_last_n));
  s_ = std::make_unique<State>(vocab, max_batch, params);
  // The zero fills ran on the legacy stream; callers may use a non-blocking one next.
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

GpuSampler::~GpuSampler() = default;
GpuSampler::GpuSampler(GpuSampler&&) noexcept = default;
GpuSampler& GpuSampler::operator=(GpuSampler&&) noexcept = default;

const SamplerParams& GpuSampler::params() const {
  return s_->params;
}
std::int64_t GpuSampler::vocab() const {
  return s_->vocab;
}
std::int64_t GpuSampler::max_batch() const {
  return s_->max_batch;
}
bool GpuSampler::has_penalties() const {
  return s_->penalties;
}
const double* GpuSampler::device_uniforms() const {
  return static_cast<const double*>(s_->uniforms.data());
}
const std::int32_t* GpuSampler::device_counts() const {
  return s_->penalties ? static_cast<const std::int32_t*>(s_->counts.data()) : nullptr;
}

void GpuSampler::accept(const TensorView& ids, cudaStream_t stream) {
  expect_rank(kOp, "ids", ids, 1);
  expect_device(kOp, "ids", ids, Device::cuda);
  expect_dtype(kOp, "ids", ids, DType::i32);
  expect_contiguous(kOp, "ids", ids);
  check_arg(ids.dim(0) <= s_->max_batch, kOp, "ids",
            "more rows than max_batch (" + std::to_string(s_->max_batch) + "): " + shape_str(ids));
  if (!s_->penalties || ids.dim(0) == 0) return;
  sampling::launch_accept_rows(s_->history(), ids.ptr<const std::int32_t>(),
                               static_cast<int>(ids.dim(0)), stream);
}

void GpuSampler::accept_host(std::int64_t row, std::span<const std::int32_t> ids,
                             cudaStream_t stream) {
  s_->check_row(row);
  for (std::size_t i = 0; i < ids.size(); ++i)
    check_arg(ids[i] >= 0 && ids[i] < s_->vocab, kOp, "ids", [&] {
      return "element [" + std::to_string(i) + "] = " + std::to_string(ids[i]) +
             " is outside [0, " + std::to_string(s_->vocab) + ")";
    });
  if (!s_->penalties || ids.empty()) return;
  // Only the last `window` tokens can still be in the window afterwards.
  if (s_->window > 0 && ids.size() > static_cast<std::size_t>(s_->window))
    ids = ids.last(static_cast<std::size_t>(s_->window));
  DeviceBuffer staged(ids.size_bytes());
  check(
      cudaMemcpyAsync(staged.data(), ids.data(), ids.size_bytes(), cudaMemcpyHostToDevice, stream),
      "cudaMemcpyAsync history");
  sampling::launch_accept_sequence(s_->history(), static_cast<int>(row),
                                   static_cast<const std::int32_t*>(staged.data()),
                                   static_cast<int>(ids.size()), stream);
  // `staged` is freed on return: wait for the kernel that reads it (not a hot path).
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
}

void GpuSampler::reset(std::int64_t row, cudaStream_t stream) {
  s_->check_row(row);
  const auto r = static_cast<std::size_t>(row);
  s_->rngs[r].seed(s_->seeds[r]);
  if (!s_->penalties) return;
  const auto v = static_cast<std::size_t>(s_->vocab);
  auto* counts = static_cast<std::int32_t*>(s_->counts.data());
  check(cudaMemsetAsync(counts + r * v, 0, v * sizeof(std::int32_t), stream), "cudaMemsetAsync");
  check(cudaMemsetAsync(static_cast<std::int32_t*>(s_->fill.data()) + r, 0, sizeof(std::int32_t),
                        stream),
        "cudaMemsetAsync");
  check(cudaMemsetAsync(static_cast<std::int32_t*>(s_->head.data()) + r, 0, sizeof(std::int32_t),
                        stream),
        "cudaMemsetAsync");
}

void GpuSampler::reset_all(cudaStream_t stream) {
  for (std::int64_t r = 0; r < s_->max_batch; ++r) reset(r, stream);
}

void GpuSampler::set_seed(std::int64_t row, std::uint64_t seed) {
  s_->check_row(row);
  const auto r = static_cast<std::size_t>(row);
  s_->seeds[r] = seed;
  s_->rngs[r].seed(seed);
}

void GpuSampler::stage_uniforms(std::int64_t batch, cudaStream_t stream) {
  check_arg(batch >= 0 && batch <= s_->max_batch, kOp, "batch",
            "expected 0..max_batch (" + std::to_string(s_->max_batch) + "), got " +
                std::to_string(batch));
  if (s_->params.temperature <= 0.0f || batch == 0) return;
  double* staged = s_->staged_uniforms.data();
  for (std::int64_t r = 0; r < batch; ++r)  // 53 random bits in [0, 1), as klab::Sampler
    staged[r] = static_cast<double>(s_->rngs[static_cast<std::size_t>(r)]() >> 11) * 0x1.0p-53;
  check(
      cudaMemcpyAsync(s_->uniforms.data(), staged, static_cast<std::size_t>(batch) * sizeof(double),
                      cudaMemcpyHostToDevice, stream),
      "cudaMemcpyAsync uniforms");
}

SampleArgs GpuSampler::args(const TensorView& logits, const TensorView& out, float* probs) const {
  return {.logits = logits,
          .out = out,
          .u = device_uniforms(),
          .counts = device_counts(),
          .params = s_->params,
          .workspace = {.scratch = static_cast<float*>(s_->scratch.data()),
                        .partial_max = static_cast<float*>(s_->partial_max.data()),
                        .partial_idx = static_cast<std::int32_t*>(s_->partial_idx.data()),
                        .tickets = static_cast<std::uint32_t*>(s_->tickets.data()),
                        .rows = s_->max_batch,
                        .vocab = s_->vocab},
          .probs = probs};
}

void GpuSampler::sample(const TensorView& logits, const TensorView& out, cudaStream_t stream,
                        std::string_view variant, float* probs) const {
  cuda::sample(args(logits, out, probs), stream, variant);
}

std::vector<std::int32_t> GpuSampler::next(const TensorView& logits, cudaStream_t stream) {
  expect_rank(kOp, "logits", logits, 2);
  const std::int64_t batch = logits.dim(0);
  check_arg(
      batch <= s_->max_batch, kOp, "logits",
      "more rows than max_batch (" + std::to_string(s_->max_batch) + "): " + shape_str(logits));
  const TensorView ids = TensorView::contiguous(s_->ids.data(), DType::i32, {batch}, Device::cuda);
  stage_uniforms(batch, stream);
  sample(logits, ids, stream);
  accept(ids, stream);
  std::int32_t* host = s_->host_ids.data();
  check(cudaMemcpyAsync(host, ids.data, static_cast<std::size_t>(batch) * sizeof(std::int32_t),
                        cudaMemcpyDeviceToHost, stream),
        "cudaMemcpyAsync ids");
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  std::vector<std::int32_t> result(host, host + batch);
  for (std::int64_t r = 0; r < batch; ++r)
    if (result[static_cast<std::size_t>(r)] < 0)
      fail(std::string(kOp) + ": row " + std::to_string(r) + ": " +
           describe_sample_status(result[static_cast<std::size_t>(r)]));
  return result;
}

}  // namespace klab::cuda
