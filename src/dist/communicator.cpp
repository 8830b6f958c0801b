// world_comm(): MPI's world under an MPI launcher, else one rank without MPI.
#include <algorithm>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <string>

// The C API only: OpenMPI would otherwise drag in its removed C++ bindings.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include "kinema/dist.hpp"
#include "kinema/error.hpp"

namespace kinema {
namespace {

class SingleRank final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduce_sum(float*, int64_t) override {}
  void allreduce_sum(double*, int64_t) override {}
  void reduce_scatter_sum(float*, int64_t) override {}
  void allgather(float*, int64_t) override {}
  void alltoallv(const float* send, const std::vector<int64_t>& send_counts, float* recv,
                 const std::vector<int64_t>&) override {
    std::copy_n(send, send_counts.at(0), recv);
  }
  void broadcast(void*, int64_t, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::exit(code); }
};

void mpi_check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  fail("mpi", what, " failed: ", std::string(text, size_t(len)));
}

// MPI counts are int: a larger buffer goes in pieces of at most 1 << 30 elements.
template <class F>
void in_pieces(int64_t n, F&& f) {
  constexpr int64_t kPiece = int64_t(1) << 30;
  for (int64_t at = 0; at < n; at += kPiece) f(at, int(std::min(kPiece, n - at)));
}

class MpiWorld final : public Communicator {
 public:
  MpiWorld() {
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
      int provided = 0;
      mpi_check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
      std::atexit([] {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (!finalized) MPI_Finalize();
      });
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allreduce_sum(float* data, int64_t n) override {
    in_pieces(n, [&](int64_t at, int count) {
      mpi_check(MPI_Allreduce(MPI_IN_PLACE, data + at, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
                "MPI_Allreduce");
    });
  }
  void allreduce_sum(double* data, int64_t n) override {
    in_pieces(n, [&](int64_t at, int count) {
      mpi_check(MPI_Allreduce(MPI_IN_PLACE, data + at, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD),
                "MPI_Allreduce");
    });
  }
  void reduce_scatter_sum(float* data, int64_t block) override {
    check(block <= int64_t(1) << 30, "mpi", "reduce_scatter block of ", block, " floats is too large");
    mpi_check(MPI_Reduce_scatter_block(MPI_IN_PLACE, data, int(block), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
              "MPI_Reduce_scatter_block");
    // In place, MPI leaves the result at the front of the buffer; ours is at the rank's block.
    if (rank_ > 0) std::memmove(data + int64_t(rank_) * block, data, size_t(block) * sizeof(float));
  }
  void allgather(float* data, int64_t block) override {
    check(block <= int64_t(1) << 30, "mpi", "allgather block of ", block, " floats is too large");
    mpi_check(MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, int(block), MPI_FLOAT, MPI_COMM_WORLD),
              "MPI_Allgather");
  }
  void alltoallv(const float* send, const std::vector<int64_t>& send_counts, float* recv,
                 const std::vector<int64_t>& recv_counts) override {
    check(int(send_counts.size()) == size_ && int(recv_counts.size()) == size_, "mpi",
          "alltoallv needs one count per rank");
    const size_t R = size_t(size_);
    std::vector<int> sc(R), sd(R), rc(R), rd(R);
    int64_t s_at = 0, r_at = 0;
    for (int q = 0; q < size_; ++q) {
      check(s_at + send_counts[size_t(q)] <= INT32_MAX && r_at + recv_counts[size_t(q)] <= INT32_MAX,
            "mpi", "alltoallv of more than 2^31 floats");
      sc[size_t(q)] = int(send_counts[size_t(q)]), sd[size_t(q)] = int(s_at);
      rc[size_t(q)] = int(recv_counts[size_t(q)]), rd[size_t(q)] = int(r_at);
      s_at += send_counts[size_t(q)], r_at += recv_counts[size_t(q)];
    }
    mpi_check(MPI_Alltoallv(send, sc.data(), sd.data(), MPI_FLOAT, recv, rc.data(), rd.data(), MPI_FLOAT,
                            MPI_COMM_WORLD),
              "MPI_Alltoallv");
  }
  void broadcast(void* data, int64_t bytes, int root) override {
    in_pieces(bytes, [&](int64_t at, int count) {
      mpi_check(MPI_Bcast(static_cast<char*>(data) + at, count, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
    });
  }
  void barrier() override { mpi_check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }
  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::exit(code);
  }

 private:
  int rank_ = 0, size_ = 1;
};

}  // namespace

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(v)) return true;
  return false;
}

Communicator& world_comm() {
  static std::unique_ptr<Communicator> w =
      launched_by_mpi() ? std::unique_ptr<Communicator>(new MpiWorld) : single_rank();
  return *w;
}

std::unique_ptr<Communicator> single_rank() { return std::make_unique<SingleRank>(); }

}  // namespace kinema
