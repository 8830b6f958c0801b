// World renderer throughput: frames per second at 128x128 on one core (simulation included),
// over a fixed set of sampled scenes. The target is >= 2000 frames/s.
#include <chrono>
#include <cstdio>

#include "kinema/world.hpp"

int main() {
  using namespace kinema::world;
  using clock = std::chrono::steady_clock;
  SampleOptions opt;  // 128x128, 12 fps, 24 frames
  std::vector<Scene> scenes;
  for (int i = 0; i < 200; ++i) scenes.push_back(sample_scene(1000 + i, opt));
  size_t frames = 0, checksum = 0;
  const auto t0 = clock::now();
  for (int rep = 0; rep < 2; ++rep)
    for (const Scene& s : scenes) {
      const auto clip = render(s);
      frames += clip.size();
      checksum += clip.back().rgb[clip.back().rgb.size() / 2];
    }
  const double sec = std::chrono::duration<double>(clock::now() - t0).count();
  const double fps = frames / sec;
  std::printf("bench_world: render 128x128: %.0f frames/s on one thread (%zu frames, %.2f s; target 2000) [%zu]\n",
              fps, frames, sec, checksum);
  std::printf("{\"bench\": \"world\", \"case\": \"render 128x128, one thread\", \"value\": %.1f, "
              "\"unit\": \"frames/s\", \"target\": 2000}\n", fps);
  // Larger sizes, for the data set writer's budget.
  for (int size : {256, 512}) {
    SampleOptions big = opt;
    big.width = big.height = size;
    size_t n = 0;
    const auto t1 = clock::now();
    for (int i = 0; i < 30; ++i) n += render(sample_scene(5000 + i, big)).size();
    const double s2 = std::chrono::duration<double>(clock::now() - t1).count();
    std::printf("bench_world: render %dx%d: %.0f frames/s\n", size, size, n / s2);
    std::printf("{\"bench\": \"world\", \"case\": \"render %dx%d, one thread\", \"value\": %.1f, "
                "\"unit\": \"frames/s\"}\n", size, size, n / s2);
  }
  return fps >= 2000 ? 0 : 1;
}
