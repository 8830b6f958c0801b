// The PyTorch oracle: every case's inputs and cotangent go to a folder, one python3 process
// (tests/ops/torch_oracle.py, PyTorch from Debian) evaluates each case's torch expression in
// float64 with autograd, and the results come back as float64 arrays.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "kinema/tensor.hpp"

namespace kinema::test {

struct OracleCase {
  std::string id, torch;
  std::vector<Tensor> inputs;
  std::vector<bool> grad;  // per input: ask for its gradient
  Tensor cotangent;        // f32, the output's shape
};

struct OracleResult {
  bool ok = false;
  std::string error;
  std::vector<double> output;
  std::vector<std::vector<double>> grads;  // per input (empty where not asked)
};

// Runs all cases in one python3 process. Throws if python3 or torch is missing.
std::map<std::string, OracleResult> run_torch_oracle(const std::vector<OracleCase>& cases);

}  // namespace kinema::test
