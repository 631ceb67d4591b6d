// Mixed-radix complex FFT (self-sorting Stockham, any length; small-prime
// butterflies) and a real FFT on top of it. Double precision: the log-mel
// takes logs of small band energies, so round-off matters more than speed.
// Plans are immutable after construction and safe to share across threads;
// callers provide the scratch buffers (one set per worker).
#pragma once
#include <complex>
#include <vector>

namespace s3d {

using cdouble = std::complex<double>;

class ComplexFFT {
 public:
  explicit ComplexFFT(int n);
  int size() const { return n_; }
  // Forward DFT X[k] = sum_j x[j] exp(-2 pi i j k / n), in place on data[0..n);
  // work must hold n values.
  void forward(cdouble* data, cdouble* work) const;

 private:
  struct Stage {
    int radix, m, stride;   // butterfly size, sub-length after stage, input stride
    size_t twiddle_offset;  // into twiddles_: (m) * (radix) entries
  };
  int n_;
  std::vector<Stage> stages_;
  std::vector<cdouble> twiddles_;
  std::vector<std::vector<cdouble>> roots_;  // roots_[p][k] = exp(-2 pi i k / p), p used
};

class RealFFT {
 public:
  explicit RealFFT(int n);
  int size() const { return n_; }
  int bins() const { return n_ / 2 + 1; }
  // Scratch length (in cdouble) that forward() needs.
  int scratch_size() const { return 2 * n_ + 2; }
  // Onesided spectrum of real input x[0..n): out[0..n/2].
  void forward(const double* x, cdouble* out, cdouble* scratch) const;

 private:
  int n_;
  bool even_;
  ComplexFFT half_;                // n/2 (even n) or n (odd n)
  std::vector<cdouble> post_;      // exp(-2 pi i k / n), k < n/2 + 1
};

}  // namespace s3d
