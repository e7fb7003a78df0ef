// KernelTrace on CUPTI's activity API (concurrent-kernel records: GPU timestamps of every
// kernel, graph nodes included). Built only with CUPTI (KLAB_HAS_CUPTI); otherwise it says so.
#include <cstdlib>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "klab/error.hpp"
#include "klab/kernel_trace.hpp"

#if KLAB_HAS_CUPTI
#include <cupti.h>
#endif

namespace klab::bench {

#if KLAB_HAS_CUPTI

namespace {

// CUPTI calls back on its own thread with completed buffers; the records go here.
struct Sink {
  std::mutex mu;
  std::vector<KernelSpan> spans;
  bool busy = false;  // a KernelTrace is alive
};
Sink& sink() {
  static Sink s;
  return s;
}

void check_cupti(CUptiResult r, const char* what) {
  if (r == CUPTI_SUCCESS) return;
  const char* msg = nullptr;
  cuptiGetResultString(r, &msg);
  fail(std::string("CUPTI ") + what + " failed: " + (msg ? msg : "unknown error"));
}

constexpr std::size_t kBufferBytes = 8u << 20;

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
  // CUPTI owns the buffer until buffer_completed hands it back (a C callback API: malloc/free).
  *buffer = static_cast<uint8_t*>(std::aligned_alloc(8, kBufferBytes));
  *size = *buffer ? kBufferBytes : 0;
  *max_records = 0;  // as many as fit
}

KernelSpan span_of(const CUpti_ActivityKernel10& k) {
  KernelSpan s;
  s.name = short_kernel_name(k.name ? k.name : "?");
  s.start_ns = k.start;
  s.end_ns = k.end;
  s.launch = k.correlationId;
  s.grid = {k.gridX, k.gridY, k.gridZ};
  s.block = {k.blockX, k.blockY, k.blockZ};
  s.cluster = static_cast<int>(k.clusterX * k.clusterY * k.clusterZ);
  if (s.cluster < 1) s.cluster = 1;
  return s;
}

void CUPTIAPI buffer_completed(CUcontext, uint32_t, uint8_t* buffer, size_t, size_t valid) {
  std::vector<KernelSpan> got;
  CUpti_Activity* record = nullptr;
  while (cuptiActivityGetNextRecord(buffer, valid, &record) == CUPTI_SUCCESS) {
    if (record->kind == CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL ||
        record->kind == CUPTI_ACTIVITY_KIND_KERNEL)
      got.push_back(span_of(*reinterpret_cast<const CUpti_ActivityKernel10*>(record)));
  }
  std::free(buffer);
  Sink& s = sink();
  const std::lock_guard lock(s.mu);
  s.spans.insert(s.spans.end(), got.begin(), got.end());
}

}  // namespace

bool KernelTrace::available() {
  return true;
}

KernelTrace::KernelTrace() {
  Sink& s = sink();
  {
    const std::lock_guard lock(s.mu);
    if (s.busy) fail("a kernel trace is already running in this process");
    s.busy = true;
    s.spans.clear();
  }
  try {
    check_cupti(cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed),
                "cuptiActivityRegisterCallbacks");
    check_cupti(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL),
                "cuptiActivityEnable(concurrent kernel)");
  } catch (...) {
    const std::lock_guard lock(s.mu);
    s.busy = false;
    throw;
  }
  active_ = true;
}

std::vector<KernelSpan> KernelTrace::stop() {
  if (!active_) return {};
  active_ = false;
  cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
  cuptiActivityDisable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL);
  Sink& s = sink();
  const std::lock_guard lock(s.mu);
  s.busy = false;
  return std::exchange(s.spans, {});
}

KernelTrace::~KernelTrace() {
  if (active_) (void)stop();
}

#else

bool KernelTrace::available() {
  return false;
}

KernelTrace::KernelTrace() {
  fail("kernel traces need CUPTI: klab was built without it (a CUDA toolkit with CUPTI)");
}

std::vector<KernelSpan> KernelTrace::stop() {
  return {};
}

KernelTrace::~KernelTrace() = default;

#endif

}  // namespace klab::bench
