// Sequence-parallel DiT forward (issue 12): the default model's width (dim 256, 4 heads, 8
// layers), random weights, bf16 compute, one forward at ~3k and ~12k tokens. Run alone it
// measures 1 rank x 1 thread, then starts itself under `mpirun -np 2` for 2 ranks x 1 thread:
// seconds per forward, speed-up, the all-to-all time of one forward (the same messages timed
// on their own: 4 per block and the final gather) and each rank's peak resident memory.
#include <sys/resource.h>

#include <cstdlib>
#include <string>

#include "bench_common.hpp"
#include "kinema/autograd.hpp"
#include "kinema/context.hpp"
#include "kinema/dist.hpp"
#include "kinema/dit.hpp"

using namespace kinema;
using namespace kinema::bench;

namespace {

struct Case { int64_t t, h, w; };  // latent frames and size: tokens = t * h/2 * w/2
constexpr Case kCases[] = {{12, 32, 32}, {12, 64, 64}};

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;
}

DiTConfig config() {
  DiTConfig c = default_dit_config();
  c.in_dim = 16;  // no frame conditioning: plain text-to-video
  return c;
}

double forward_seconds(const DiT& model, const Case& k, Communicator* comm) {
  Tensor x = Tensor::zeros({1, 16, k.t, k.h, k.w}), t = Tensor::from_vector({500.f}, {1});
  Tensor ctx = Tensor::zeros({1, 80, 256});
  DiTForwardOptions o;
  o.compute = DType::bf16, o.sequence_parallel = comm;
  return time_it([&] { model.forward(x, t, ctx, o); }, 1);
}

// The all-to-all traffic of one forward, timed alone: per block q, k, v to heads and o back
// (each 1/R of the tokens' D floats to every rank), then the output gather.
double all_to_all_seconds(Communicator& comm, int64_t tokens) {
  const int R = comm.size();
  const int64_t share = tokens / R * 256 / R;
  std::vector<float> send(size_t(share * R)), recv(send.size());
  std::vector<int64_t> counts(size_t(R), share);
  return time_it([&] {
    for (int i = 0; i < 4 * 8; ++i) comm.alltoallv(send.data(), counts, recv.data(), counts);
  }, 3);
}

}  // namespace

int main(int argc, char** argv) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  NoGradGuard no_grad;
  DiT model = DiT::init_random(config(), 1);
  std::vector<double> alone(std::size(kCases));
  if (!launched_by_mpi()) {
    std::string cmd = "OMPI_MCA_btl=self,vader mpirun --allow-run-as-root --oversubscribe -np 2 " + std::string(argv[0]);
    for (size_t i = 0; i < std::size(kCases); ++i) {
      const Case& k = kCases[i];
      const std::string n = std::to_string(k.t * k.h / 2 * k.w / 2) + " tokens";
      alone[i] = forward_seconds(model, k, nullptr);
      report("sequence_parallel", "1 rank x 1 thread forward s, " + n, alone[i], "s", 0);
      cmd += " " + std::to_string(alone[i]);
    }
    report("sequence_parallel", "1 rank peak RSS MB", peak_rss_mb(), "MB", 0);
    return std::system(cmd.c_str()) == 0 ? 0 : 1;
  }
  Communicator& comm = world_comm();
  for (size_t i = 0; i < std::size(kCases); ++i) {
    const Case& k = kCases[i];
    const int64_t tokens = k.t * k.h / 2 * k.w / 2;
    const double s = forward_seconds(model, k, &comm), a2a = all_to_all_seconds(comm, tokens);
    if (!comm.is_root()) continue;
    const std::string n = std::to_string(comm.size()) + " ranks x 1 thread, " + std::to_string(tokens) + " tokens";
    const double base = argc > int(i) + 1 ? std::atof(argv[i + 1]) : 0;
    report("sequence_parallel", n + " forward s", s, "s", 0);
    if (base > 0) report("sequence_parallel", n + " speed-up", base / s, "x", comm.size());
    report("sequence_parallel", n + " all-to-all s per forward", a2a, "s", 0);
    report("sequence_parallel", n + " all-to-all share", a2a / s, "fraction", 0);
  }
  double rss = peak_rss_mb();
  if (comm.is_root()) report("sequence_parallel", std::to_string(comm.size()) + " ranks peak RSS MB per rank", rss, "MB", 0);
  return 0;
}
