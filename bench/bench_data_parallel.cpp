// Data-parallel DiT training on this machine (issues 6 and 12): the default model's size
// (dim 256, 8 layers, 448-token clips, batch 4 per rank), one thread per rank. Run alone it
// measures 1 rank, then starts itself under `mpirun -np 2` and the ranks measure 2 x 1
// thread: samples/s, speed-up (ideal 2 when the two ranks get a core each), the gradient
// all-reduce's seconds per step and its share of the step, and the optimizer state per rank
// with and without ZeRO sharding; and the 2-rank run's model FLOP utilisation (issue 6's
// yardstick: the default model is trained this way, two ranks of one thread, in bf16 where the
// CPU has AVX512_BF16), in f32 and bf16 compute.
#include <cstdlib>
#include <string>

#include "bench_common.hpp"
#include "kinema/context.hpp"
#include "kinema/dist.hpp"
#include "kinema/train.hpp"

using namespace kinema;
using namespace kinema::bench;

namespace {

struct Result {
  double samples_per_s = 0, allreduce_s = 0;
  int64_t state_bytes = 0, params = 0;
};

Result measure(Communicator* comm, bool zero, DType compute = DType::f32) {
  const DiTConfig c = default_dit_config();
  SyntheticLatentOptions data;
  data.count = 16, data.channels = 16, data.frames = 7, data.height = 16, data.width = 16;
  data.text_len = 80, data.text_dim = 256;
  SyntheticLatentDataset set(data);
  DiT model = DiT::init_random(c, 1);
  TrainerOptions o;
  o.batch_size = 4, o.lr = LrSchedule{1e-4f, 0, 1000, 0.1f};
  o.comm = comm, o.shard_optimizer = zero, o.compute = compute;
  DiTTrainer trainer(model, set, o);
  const int ranks = comm ? comm->size() : 1;
  Result r;
  r.samples_per_s = double(4 * ranks) / time_it([&] { trainer.step(); }, 3);
  r.state_bytes = trainer.optimizer_state_bytes();
  for (const Tensor& p : model.parameters()) r.params += p.numel();
  if (comm) {  // the all-reduce a plain data-parallel step does, alone
    std::vector<float> g(size_t(r.params), 1.f);
    r.allreduce_s = time_it([&] { comm->allreduce_sum(g.data(), r.params); }, 5);
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  if (!launched_by_mpi()) {
    Result one = measure(nullptr, false);
    report("data_parallel", "1 rank x 1 thread samples/s", one.samples_per_s, "samples/s", 0);
    const std::string cmd = "OMPI_MCA_btl=self,vader mpirun --allow-run-as-root --oversubscribe -np 2 " +
                            std::string(argv[0]) + " " + std::to_string(one.samples_per_s);
    return std::system(cmd.c_str()) == 0 ? 0 : 1;
  }
  Communicator& comm = world_comm();
  const double baseline = argc > 1 ? std::atof(argv[1]) : 0;
  Result dp = measure(&comm, false), zero = measure(&comm, true), bf16 = measure(&comm, false, DType::bf16);
  if (!comm.is_root()) return 0;
  const double step_s = double(4 * comm.size()) / dp.samples_per_s;
  const std::string n = std::to_string(comm.size()) + " ranks x 1 thread";
  report("data_parallel", n + " samples/s", dp.samples_per_s, "samples/s", 0);
  // FLOPs counted analytically as bench_dit_train does: training = 3x the forward.
  const double flops_per_sample = 3.0 * dit_forward_flops(default_dit_config(), 7 * 8 * 8, 80);
  const double bf16_peak = read_peaks().bf16_gflops;
  report("data_parallel", n + " model FLOP/s vs bf16 peak", dp.samples_per_s * flops_per_sample / 1e9, "GFLOP/s",
         bf16_peak);
  report("data_parallel", n + " bf16 compute samples/s", bf16.samples_per_s, "samples/s", 0);
  report("data_parallel", n + " bf16 compute model FLOP/s vs bf16 peak",
         bf16.samples_per_s * flops_per_sample / 1e9, "GFLOP/s", bf16_peak);
  if (baseline > 0) report("data_parallel", n + " speed-up over 1 rank", dp.samples_per_s / baseline, "x", comm.size());
  report("data_parallel", n + " gradient all-reduce s/step", dp.allreduce_s, "s", 0);
  report("data_parallel", n + " all-reduce share of the step", dp.allreduce_s / step_s, "fraction", 0);
  report("data_parallel", n + " ZeRO samples/s", zero.samples_per_s, "samples/s", 0);
  report("data_parallel", n + " optimizer state per rank (MB)", double(dp.state_bytes) / 1e6, "MB", 0);
  report("data_parallel", n + " ZeRO optimizer state per rank (MB)", double(zero.state_bytes) / 1e6, "MB", 0);
  return 0;
}
