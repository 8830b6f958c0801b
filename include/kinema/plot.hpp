// A training run's loss curve as a PNG (Cairo), written next to its checkpoints: the raw loss
// per step (light) and its exponential moving average (dark), log-scale loss axis.
#pragma once
#include <string>

namespace kinema {

// Reads csv_path (the trainers' "step,loss,lr,grad_norm,seconds" log) and writes png_path.
// Throws Error naming the file and line for an unreadable or malformed log.
void write_loss_plot(const std::string& csv_path, const std::string& png_path, int width = 800,
                     int height = 400);

}  // namespace kinema
