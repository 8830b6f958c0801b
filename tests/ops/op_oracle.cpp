#include "op_oracle.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "kinema/error.hpp"

namespace kinema::test {
namespace fs = std::filesystem;

namespace {

void write_f32(const fs::path& p, const std::vector<float>& v) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size() * 4));
}

std::vector<double> read_f64(const fs::path& p) {
  std::ifstream f(p, std::ios::binary | std::ios::ate);
  if (!f) return {};
  std::vector<double> v(size_t(f.tellg()) / 8);
  f.seekg(0);
  f.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * 8));
  return v;
}

std::string dims(const Shape& s) {
  std::string r;
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r.empty() ? "-" : r;
}

}  // namespace

std::map<std::string, OracleResult> run_torch_oracle(const std::vector<OracleCase>& cases) {
  fs::path script = fs::path(KINEMA_SOURCE_DIR) / "tests/ops/torch_oracle.py";
  check(fs::exists(script), "oracle", "missing ", script.string());
  fs::path dir = fs::temp_directory_path() / ("kinema-oracle-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    std::ofstream m(dir / "manifest.txt");
    for (const OracleCase& c : cases) {
      m << "case " << c.id << "\n" << "torch " << c.torch << "\n";
      for (size_t i = 0; i < c.inputs.size(); ++i) {
        std::string file = c.id + "_in" + std::to_string(i) + ".f32";
        write_f32(dir / file, c.inputs[i].to_vector());
        m << "input " << file << " " << dims(c.inputs[i].shape()) << " " << int(c.grad[i]) << "\n";
      }
      std::string cot = c.id + "_cot.f32";
      write_f32(dir / cot, c.cotangent.to_vector());
      m << "cot " << cot << " " << dims(c.cotangent.shape()) << "\nend\n";
    }
  }
  std::string cmd = std::string(KINEMA_PYTHON) + " " + script.string() + " " + dir.string() + " > " +
                    (dir / "oracle.log").string() + " 2>&1";
  int rc = std::system(cmd.c_str());
  std::map<std::string, OracleResult> out;
  if (rc != 0) {
    std::ifstream log(dir / "oracle.log");
    std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    fs::remove_all(dir);
    fail("oracle", "python3 torch_oracle.py failed (", rc, "): ", text);
  }
  for (const OracleCase& c : cases) {
    OracleResult r;
    std::ifstream err(dir / (c.id + ".err"));
    if (err) {
      std::getline(err, r.error, '\0');
    } else {
      r.ok = true;
      r.output = read_f64(dir / (c.id + "_out.f64"));
      for (size_t i = 0; i < c.inputs.size(); ++i)
        r.grads.push_back(c.grad[i] ? read_f64(dir / (c.id + "_grad" + std::to_string(i) + ".f64"))
                                    : std::vector<double>{});
    }
    out[c.id] = std::move(r);
  }
  fs::remove_all(dir);
  return out;
}

}  // namespace kinema::test
