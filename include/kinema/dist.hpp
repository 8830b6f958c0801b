// Ranks of one job: the collectives kinema's data-parallel training and sharded optimizer use.
// Under `mpirun -np N kinema ...` world_comm() is MPI_COMM_WORLD (MPI starts on first use); a process
// started any other way is one rank and never touches MPI, so single-machine use costs nothing.
// Collectives are blocking and must be called by every rank in the same order.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

namespace kinema {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Sum of every rank's data, in place, on every rank.
  virtual void allreduce_sum(float* data, int64_t n) = 0;
  virtual void allreduce_sum(double* data, int64_t n) = 0;
  // data holds size() equal blocks of `block` floats; afterwards block rank() holds the sum of
  // every rank's block rank() (the other blocks are unspecified).
  virtual void reduce_scatter_sum(float* data, int64_t block) = 0;
  // data holds size() blocks of `block` floats; each rank's own block is sent to all.
  virtual void allgather(float* data, int64_t block) = 0;
  // Rank q receives send_counts[q] floats from this rank (taken from send in rank order) and
  // this rank receives recv_counts[q] floats from rank q (stored in recv in rank order).
  virtual void alltoallv(const float* send, const std::vector<int64_t>& send_counts, float* recv,
                         const std::vector<int64_t>& recv_counts) = 0;
  virtual void broadcast(void* data, int64_t bytes, int root) = 0;
  virtual void barrier() = 0;
  // Ends every rank's process with `code` (an error on one rank must not leave the others
  // waiting in a collective forever).
  [[noreturn]] virtual void abort(int code) = 0;
  bool is_root() const { return rank() == 0; }
};

// This process's ranks: MPI's world when started by an MPI launcher, else a single rank.
Communicator& world_comm();
// A single-rank communicator (tests compare a 1-rank run with an N-rank one in one job).
std::unique_ptr<Communicator> single_rank();
// True when the environment says an MPI launcher (mpirun, srun with PMI/PMIx) started us.
bool launched_by_mpi();

}  // namespace kinema
