// Bucketed micro-batches (see bucket_queues.hpp).
#include "train/bucket_queues.hpp"

#include <utility>

#include "kinema/error.hpp"

namespace kinema::detail {
namespace {
std::vector<int64_t> pop_front(std::vector<int64_t>& q, int64_t n) {
  std::vector<int64_t> out(q.begin(), q.begin() + n);
  q.erase(q.begin(), q.begin() + n);
  return out;
}
}  // namespace

std::vector<int64_t> take_any(BucketQueues& q, DataOrder& order, const LatentDataset& data, int64_t batch,
                              std::string* bucket) {
  check(batch > 0, "take_any", "the micro-batch size must be positive; got ", batch);
  for (auto& [name, queue] : q)
    if (int64_t(queue.size()) >= batch) {
      if (bucket) *bucket = name;
      return pop_front(queue, batch);
    }
  for (;;) {
    const int64_t index = order.next();
    const std::string name = data.bucket(index);
    std::vector<int64_t>& queue = q[name];
    queue.push_back(index);
    if (int64_t(queue.size()) == batch) {
      if (bucket) *bucket = name;
      return std::exchange(queue, {});
    }
  }
}

std::vector<int64_t> take_bucket(BucketQueues& q, DataOrder& order, const LatentDataset& data, int64_t batch,
                                 const std::string& bucket) {
  check(batch > 0, "take_bucket", "the micro-batch size must be positive; got ", batch);
  while (int64_t(q[bucket].size()) < batch) {
    const int64_t index = order.next();
    q[data.bucket(index)].push_back(index);
  }
  return pop_front(q[bucket], batch);
}

std::vector<std::vector<int64_t>> take_step(BucketQueues& q, DataOrder& order, const LatentDataset& data,
                                            int64_t batch, int64_t micro_batches) {
  std::vector<std::vector<int64_t>> out;
  std::string bucket;
  out.push_back(take_any(q, order, data, batch, &bucket));
  while (int64_t(out.size()) < micro_batches) out.push_back(take_bucket(q, order, data, batch, bucket));
  return out;
}

}  // namespace kinema::detail
