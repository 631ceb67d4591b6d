#include "audio/fft.h"

#include <cmath>
#include <stdexcept>

#include "core/error.h"

namespace s3d {

namespace {
constexpr double kTwoPi = 6.283185307179586476925286766559;

cdouble unit_root(int64_t k, int64_t n) {  // exp(-2 pi i k / n), k reduced for accuracy
  k %= n;
  if (k < 0) k += n;
  const double a = -kTwoPi * static_cast<double>(k) / static_cast<double>(n);
  return {std::cos(a), std::sin(a)};
}
// Plain complex product: std::complex operator* goes through __muldc3 (C99
// inf/NaN recovery) unless -ffast-math, which costs several times more.
inline cdouble cmul(const cdouble& a, const cdouble& b) {
  return {a.real() * b.real() - a.imag() * b.imag(), a.real() * b.imag() + a.imag() * b.real()};
}
}  // namespace

ComplexFFT::ComplexFFT(int n) : n_(n) {
  if (n < 1) throw Error(ErrorCode::InvalidArgument, "Expected a positive FFT size but received " + std::to_string(n));
  // Factor: radix 4 first (fewest stages), then 2, 3, 5, 7, ... primes.
  std::vector<int> radices;
  int r = n;
  while (r % 4 == 0) { radices.push_back(4); r /= 4; }
  for (int p = 2; r > 1; ++p) {
    if (p * p > r) p = r;
    while (r % p == 0) { radices.push_back(p); r /= p; }
  }
  roots_.resize(n + 1);
  // Stockham DIF: stage with length `len` (= radix * m) and stride s
  // reads x[j + s (q + m r)] and writes y[j + s (radix q + k)].
  int len = n, stride = 1;
  for (int p : radices) {
    const int m = len / p;
    Stage st{p, m, stride, twiddles_.size()};
    for (int q = 0; q < m; ++q)
      for (int k = 0; k < p; ++k) twiddles_.push_back(unit_root(static_cast<int64_t>(k) * q, len));
    if (roots_[p].empty()) {
      roots_[p].resize(p);
      for (int k = 0; k < p; ++k) roots_[p][k] = unit_root(k, p);
    }
    stages_.push_back(st);
    len = m;
    stride *= p;
  }
}

void ComplexFFT::forward(cdouble* data, cdouble* work) const {
  cdouble* x = data;
  cdouble* y = work;
  cdouble a[64];
  std::vector<cdouble> big;  // only for prime factors > 64 (not used for audio sizes)
  for (const Stage& st : stages_) {
    const int p = st.radix, m = st.m, s = st.stride;
    const cdouble* tw = twiddles_.data() + st.twiddle_offset;
    const cdouble* w = roots_[p].data();
    cdouble* in = a;
    if (p > 64) { big.resize(p); in = big.data(); }
    for (int q = 0; q < m; ++q) {
      const cdouble* twq = tw + static_cast<size_t>(q) * p;
      for (int j = 0; j < s; ++j) {
        for (int r = 0; r < p; ++r) in[r] = x[j + s * (q + m * r)];
        cdouble* out = y + j + s * (p * q);
        if (p == 2) {
          out[0] = in[0] + in[1];
          out[s] = cmul(in[0] - in[1], twq[1]);
        } else if (p == 4) {
          const cdouble t0 = in[0] + in[2], t1 = in[0] - in[2];
          const cdouble t2 = in[1] + in[3], d = in[1] - in[3];
          const cdouble t3(d.imag(), -d.real());  // -i * d
          out[0] = t0 + t2;
          out[s] = cmul(t1 + t3, twq[1]);
          out[2 * s] = cmul(t0 - t2, twq[2]);
          out[3 * s] = cmul(t1 - t3, twq[3]);
        } else if (p == 5) {
          // a0 + c1 b1 + c2 b2 -+ i (s1 d1 + s2 d2), a0 + c2 b1 + c1 b2 -+ i (s2 d1 - s1 d2)
          constexpr double c1 = 0.30901699437494742410, c2 = -0.80901699437494742410;
          constexpr double s1 = 0.95105651629515357212, s2 = 0.58778525229247312917;
          const cdouble b1 = in[1] + in[4], b2 = in[2] + in[3];
          const cdouble d1 = in[1] - in[4], d2 = in[2] - in[3];
          const cdouble t1 = in[0] + c1 * b1 + c2 * b2, t2 = in[0] + c2 * b1 + c1 * b2;
          const cdouble u1 = s1 * d1 + s2 * d2, u2 = s2 * d1 - s1 * d2;
          const cdouble iu1(-u1.imag(), u1.real()), iu2(-u2.imag(), u2.real());  // i * u
          out[0] = in[0] + b1 + b2;
          out[s] = cmul(t1 - iu1, twq[1]);
          out[2 * s] = cmul(t2 - iu2, twq[2]);
          out[3 * s] = cmul(t2 + iu2, twq[3]);
          out[4 * s] = cmul(t1 + iu1, twq[4]);
        } else {
          for (int k = 0; k < p; ++k) {
            cdouble acc = in[0];
            int idx = 0;
            for (int r = 1; r < p; ++r) {
              idx += k;
              if (idx >= p) idx -= p;
              acc += cmul(in[r], w[idx]);
            }
            out[k * s] = k ? cmul(acc, twq[k]) : acc;
          }
        }
      }
    }
    std::swap(x, y);
  }
  if (x != data)
    for (int i = 0; i < n_; ++i) data[i] = x[i];
}

RealFFT::RealFFT(int n) : n_(n), even_(n % 2 == 0), half_(n % 2 == 0 ? n / 2 : n) {
  if (even_) {
    post_.resize(n / 2 + 1);
    for (int k = 0; k <= n / 2; ++k) post_[k] = unit_root(k, n);
  }
}

void RealFFT::forward(const double* x, cdouble* out, cdouble* scratch) const {
  cdouble* z = scratch;
  cdouble* work = scratch + n_;
  if (!even_) {
    for (int i = 0; i < n_; ++i) z[i] = cdouble(x[i], 0.0);
    half_.forward(z, work);
    for (int k = 0; k <= n_ / 2; ++k) out[k] = z[k];
    return;
  }
  // Pack even/odd samples into one complex signal of length N = n/2:
  // X[k] = E[k] + w^k O[k], E = (Z[k] + conj Z[N-k]) / 2, O = (Z[k] - conj Z[N-k]) / 2i.
  const int N = n_ / 2;
  for (int i = 0; i < N; ++i) z[i] = cdouble(x[2 * i], x[2 * i + 1]);
  half_.forward(z, work);
  for (int k = 0; k <= N; ++k) {
    const cdouble zk = z[k == N ? 0 : k];
    const cdouble zc = std::conj(z[k == 0 ? 0 : N - k]);
    const cdouble e = 0.5 * (zk + zc);
    const cdouble d = 0.5 * (zk - zc);
    const cdouble o(d.imag(), -d.real());  // d / i
    out[k] = e + cmul(post_[k], o);
  }
}

}  // namespace s3d
