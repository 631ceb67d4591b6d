// Fixed-size worker pool for data-parallel loops. The calling thread takes
// part in the work, so a pool of size N uses N-1 background workers.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace s3d {

class ThreadPool {
 public:
  // threads <= 0 means one per hardware core.
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return size_; }

  // Splits [0, n) into chunks of at least `grain` items and calls
  // fn(begin, end, worker_index) on each; worker_index < size() so callers can
  // keep per-worker scratch buffers. Blocks until all chunks are done.
  // Exceptions thrown by fn are rethrown here (the first one wins).
  // Nested calls from inside fn run serially on the calling worker.
  void parallel_for(int64_t n, int64_t grain,
                    const std::function<void(int64_t begin, int64_t end, int worker)>& fn);

  static int hardware_threads();

 private:
  void worker_loop(int index);
  void run_chunks(int worker);

  int size_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_work_, cv_done_;
  const std::function<void(int64_t, int64_t, int)>* job_ = nullptr;
  int64_t n_ = 0, chunk_ = 1, next_ = 0;
  int pending_workers_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
  std::mutex call_mu_;  // one parallel_for at a time
};

}  // namespace s3d
