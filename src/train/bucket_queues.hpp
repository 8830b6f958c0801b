// Micro-batches drawn from the shuffled data order into one queue per bucket (train.hpp's
// "Micro-batches and buckets"). Shared by DiTTrainer::step and the replay in DiTTrainer::load,
// which must take the same decisions to rebuild the queues from the data position alone.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kinema/train.hpp"

namespace kinema::detail {

using BucketQueues = std::map<std::string, std::vector<int64_t>>;

// The first `batch` indices of a queue that already holds that many (the first such bucket by
// name), or else of the first queue to reach `batch` as indices are drawn from the order.
// The bucket taken is stored in *bucket when given.
std::vector<int64_t> take_any(BucketQueues& q, DataOrder& order, const LatentDataset& data, int64_t batch,
                              std::string* bucket = nullptr);
// The first `batch` indices of `bucket`'s queue, drawing from the order until it has them.
std::vector<int64_t> take_bucket(BucketQueues& q, DataOrder& order, const LatentDataset& data, int64_t batch,
                                 const std::string& bucket);
// One optimizer step's micro-batches, all of one bucket: the first is take_any's, the others
// come from its bucket. Every rank then does work of the same shape, so none waits at the
// gradient all-reduce (image micro-batches cost a seventh of a 25-frame clip's).
std::vector<std::vector<int64_t>> take_step(BucketQueues& q, DataOrder& order, const LatentDataset& data,
                                            int64_t batch, int64_t micro_batches);

}  // namespace kinema::detail
