// The loss plot: a PNG of the right size with both curves drawn, and clear errors for bad logs.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "kinema/error.hpp"
#include "kinema/media.hpp"
#include "kinema/plot.hpp"

namespace fs = std::filesystem;

namespace kinema {
namespace {

TEST(LossPlot, DrawsTheRawCurveAndItsAverageOnAPngOfTheAskedSize) {
  const fs::path dir = fs::temp_directory_path() / ("kinema_plot_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    std::ofstream f(dir / "log.csv");
    f << "step,loss,lr,grad_norm,seconds\n";
    for (int s = 1; s <= 300; ++s) f << s << "," << 2.0 * std::exp(-s / 80.0) + 0.1 * (s % 3) << ",1e-3,1,0.1\n";
  }
  write_loss_plot((dir / "log.csv").string(), (dir / "loss.png").string(), 640, 320);
  std::vector<Frame> img = read_video((dir / "loss.png").string());
  ASSERT_EQ(img.size(), 1u);
  EXPECT_EQ(img[0].width, 640);
  EXPECT_EQ(img[0].height, 320);
  int raw = 0, average = 0;
  for (size_t i = 0; i + 2 < img[0].rgb.size(); i += 3) {
    const int r = img[0].rgb[i], g = img[0].rgb[i + 1], b = img[0].rgb[i + 2];
    raw += (b > 200 && r > 130 && r < 190);  // light blue
    average += (b > 120 && r < 40);           // dark blue
  }
  EXPECT_GT(raw, 300);
  EXPECT_GT(average, 300);
  fs::remove_all(dir);
}

TEST(LossPlot, MalformedOrEmptyLogsAreErrorsNamingTheLine) {
  const fs::path dir = fs::temp_directory_path() / ("kinema_plot_bad_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "bad.csv") << "step,loss\n1,0.5\nthree,oops\n";
  try {
    write_loss_plot((dir / "bad.csv").string(), (dir / "x.png").string());
    FAIL() << "a malformed log was plotted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos) << e.what();
  }
  std::ofstream(dir / "empty.csv") << "step,loss\n";
  EXPECT_THROW(write_loss_plot((dir / "empty.csv").string(), (dir / "x.png").string()), Error);
  EXPECT_THROW(write_loss_plot((dir / "missing.csv").string(), (dir / "x.png").string()), Error);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kinema
