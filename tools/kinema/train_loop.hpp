// The loop every `kinema train <model>` shares: step until --steps (or --stop-after), write the
// CSV log, the progress bar and (at each save) DIR/loss.png, save every N steps and at the end, and turn Ctrl-C / SIGTERM
// into "finish the step in flight, save, exit 130" so no work is lost.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "kinema/compute_choice.hpp"
#include "kinema/dist.hpp"
#include "kinema/error.hpp"
#include "kinema/plot.hpp"
#include "kinema/train.hpp"

namespace kinema::cli {

struct TrainLoopCli {
  int64_t steps = 100;
  std::string out;
  bool resume = false;
  int64_t save_every = 0;
  int64_t keep = 0;        // 0: keep every checkpoint
  int64_t stop_after = 0;  // 0: run to --steps
};

// The rows of TrainLoopCli for a command's option table (Cli must derive from TrainLoopCli).
#define KINEMA_TRAIN_LOOP_OPTIONS                                                                     \
  {"--steps", "N", "train until the optimizer has taken N steps in all (a resumed run goes on to N)", \
   KINEMA_OPT_INT(steps)},                                                                           \
  {"--out", "DIR", "checkpoints (DIR/step-NNNNNNNN, DIR/latest) and DIR/train_log.csv",              \
   KINEMA_OPT_STRING(out)},                                                                          \
  {"--resume", "", "continue from DIR/latest (model, EMA, optimizer, step, data position, RNG)",     \
   KINEMA_OPT_FLAG(resume)},                                                                         \
  {"--stop-after", "N", "stop (and save) once step N is done, as if interrupted; the schedule still ends at --steps", \
   KINEMA_OPT_INT(stop_after)},                                                                      \
  {"--save-every", "N", "also save a checkpoint every N steps (0: only at the end)", KINEMA_OPT_INT(save_every)}, \
  {"--keep", "N", "keep only the newest N step checkpoints in DIR (0: all; a DiT checkpoint is ~200 MB)", \
   KINEMA_OPT_INT(keep)}

// The optimiser and schedule rows (TrainLoopOptions) for a command whose Cli has a member
// `trainer` deriving from TrainLoopOptions; `unit` names what a micro-batch holds ("clips").
#define KINEMA_OPTIMIZER_OPTIONS(unit)                                                                \
  {"--batch", "B", unit " per micro-batch", KINEMA_OPT_INT(trainer.batch_size)},                    \
  {"--accum", "K", "micro-batches per optimizer step (gradient accumulation)",                      \
   KINEMA_OPT_INT(trainer.accumulation)},                                                           \
  {"--lr", "X", "peak learning rate (AdamW)", KINEMA_OPT_FLOAT(trainer.lr.peak)},                   \
  {"--warmup", "N", "linear warm-up steps, then cosine decay to --min-lr-ratio x peak at --steps",  \
   KINEMA_OPT_INT(trainer.lr.warmup_steps)},                                                        \
  {"--min-lr-ratio", "X", "final learning rate as a fraction of the peak",                          \
   KINEMA_OPT_FLOAT(trainer.lr.min_ratio)},                                                         \
  {"--weight-decay", "X", "AdamW decoupled weight decay", KINEMA_OPT_FLOAT(trainer.adamw.weight_decay)}, \
  {"--clip", "X", "clip the global gradient norm to X (0: off)", KINEMA_OPT_FLOAT(trainer.clip_norm)}, \
  {"--ema", "X", "EMA decay of the weights, kept in f32 (0: off)", KINEMA_OPT_FLOAT(trainer.ema_decay)}, \
  {"--seed", "N", "data order and the trainer's RNG (noise, dropout, masks)", KINEMA_OPT_INT(trainer.seed)}, \
  {"--zero", "", "under mpirun: shard the optimizer state across ranks (ZeRO-1/2) instead of all-reducing", \
   KINEMA_OPT_FLAG(trainer.shard_optimizer)}

// Under mpirun the ranks train one model together (docs/train.md, "Many machines").
inline void use_mpi_ranks(TrainLoopOptions& o) {
  if (launched_by_mpi()) o.comm = &world_comm();
}

// A bf16 run on a CPU where bf16 GEMMs are slower than f32 ones is told so (by rank 0) before it
// starts. Options: any trainer's options (compute, comm).
template <class Options>
void note_slow_bf16(const Options& o) {
  if (o.compute != DType::bf16 || (o.comm && o.comm->rank() != 0)) return;
  const ComputeSpeeds s = measure_compute_speeds();
  if (s.bf16_gflops < s.f32_gflops)
    std::fprintf(stderr, "note: on this CPU bf16 products run at %.2fx the f32 speed (%.0f vs %.0f GFLOP/s, timed); "
                 "--compute f32 (or auto) trains faster here\n", s.bf16_gflops / s.f32_gflops, s.bf16_gflops, s.f32_gflops);
}

// Runs trainer (step(), steps_done(), data_position(), save(dir)) to the end. on_step, when
// set, runs after each step (samples, plots). Returns the exit status (0, or 130 if stopped).
template <class Trainer>
int run_train_loop(Trainer& trainer, const TrainLoopCli& c,
                   const std::function<void(const StepStats&)>& on_step = {});

// Non-template pieces (cmd_train.cpp).
// While alive, Ctrl-C (SIGINT) and SIGTERM request a stop (stop_requested) instead of ending
// the process; the destructor puts the old handlers back, also when a step throws.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
};
bool stop_requested();

// DIR/loss.png from DIR/train_log.csv; a plot that cannot be drawn is a warning, never a
// failed run.
inline void plot_losses(const std::string& dir) {
  try {
    write_loss_plot(dir + "/train_log.csv", dir + "/loss.png");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "warning: no loss plot: %s\n", e.what());
  }
}

// Whether to stop before the next step: every rank must agree, or one would wait forever in a
// collective the others left.
bool all_ranks_stop(Communicator& comm);

template <class Trainer>
int run_train_loop(Trainer& trainer, const TrainLoopCli& c,
                   const std::function<void(const StepStats&)>& on_step) {
  std::unique_ptr<Communicator> alone = launched_by_mpi() ? nullptr : single_rank();
  Communicator& comm = alone ? *alone : world_comm();
  const bool root = comm.is_root();  // rank 0 logs, plots and prints; every rank saves (collective)
  check(c.keep >= 0, "train", "--keep must be 0 (keep all) or positive; got ", c.keep);
  std::filesystem::create_directories(c.out);
  std::unique_ptr<CsvLog> log = root ? std::make_unique<CsvLog>(c.out + "/train_log.csv", trainer.steps_done()) : nullptr;
  const int64_t last = c.stop_after > 0 ? std::min(c.stop_after, c.steps) : c.steps;
  ProgressBar bar(trainer.steps_done(), c.steps);
  {
    StopSignals stop_signals;
    while (trainer.steps_done() < last && !all_ranks_stop(comm)) {
      StepStats s = trainer.step();
      if (root) {
        log->write(s);
        bar.update(s);
        if (on_step) on_step(s);
      }
      if (c.save_every > 0 && s.step % c.save_every == 0 && s.step < c.steps) {
        trainer.save(c.out);
        if (root) plot_losses(c.out);
        if (root && c.keep > 0) prune_checkpoints(c.out, c.keep);
      }
    }
  }
  if (root) bar.finish();
  std::string saved = trainer.save(c.out);
  if (!root) return stop_requested() ? 130 : 0;
  plot_losses(c.out);
  if (c.keep > 0) prune_checkpoints(c.out, c.keep);
  std::printf("%s: step %lld, data position %lld\n", saved.c_str(),
              static_cast<long long>(trainer.steps_done()), static_cast<long long>(trainer.data_position()));
  if (stop_requested()) {
    std::fprintf(stderr, "interrupted; continue with the same command plus --resume\n");
    return 130;
  }
  return 0;
}

}  // namespace kinema::cli
