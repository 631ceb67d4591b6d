#include "model/decoder_mlp.h"

#include <cstring>
#include <vector>

#include "model/weights.h"

namespace s3d {

TriplaneDecoder::TriplaneDecoder(const Weights& w, const ModelConfig& cfg)
    : in_(cfg.point_feat()), hidden_(cfg.decoder_hidden), feat_(cfg.feat_channels) {
  fc1_ = pack_linear(w.get("decoder.fc1.weight", {hidden_, in_}).data, hidden_, in_);
  b1_ = w.get("decoder.fc1.bias", {hidden_}).clone();
  const Tensor& w2 = w.get("decoder.fc2.weight", {1 + feat_, hidden_});
  const Tensor& b2 = w.get("decoder.fc2.bias", {1 + feat_});
  std::vector<float> perm(static_cast<size_t>(1 + feat_) * hidden_);
  b2_ = Tensor::empty({1 + feat_});
  for (int o = 0; o < 1 + feat_; ++o) {
    const int src = o < feat_ ? o + 1 : 0;
    std::memcpy(perm.data() + static_cast<size_t>(o) * hidden_, w2.data + static_cast<int64_t>(src) * hidden_,
                sizeof(float) * hidden_);
    b2_.data[o] = b2.data[src];
  }
  fc2_ = pack_linear(perm.data(), 1 + feat_, hidden_);
}

void TriplaneDecoder::forward(int n, const float* f, int ldf, float* scratch, float* out, int ldo) const {
  Epilogue e1;
  e1.bias = b1_.data;
  e1.act = Act::Softplus;
  gemm_serial(n, f, ldf, fc1_, scratch, hidden_, e1);
  Epilogue e2;
  e2.bias = b2_.data;
  gemm_serial(n, scratch, hidden_, fc2_, out, ldo, e2);
  const float scale = 1.f + 2e-3f, shift = 1e-3f;
  for (int i = 0; i < n; ++i) {
    float* row = out + static_cast<int64_t>(i) * ldo;
    apply_activation(row, feat_, Act::Sigmoid);
    for (int c = 0; c < feat_; ++c) row[c] = row[c] * scale - shift;
  }
}

void TriplaneDecoder::run(const Tensor& feats, Tensor* sigma, Tensor* feat) const {
  const int n = static_cast<int>(feats.dim(0));
  const int ldo = feat_ + 1;
  Tensor out = Tensor::empty({n, ldo});
  Tensor scratch = Tensor::empty({static_cast<int64_t>(scratch_floats(n > 0 ? n : 1))});
  forward(n, feats.data, in_, scratch.data, out.data, ldo);
  *sigma = Tensor::empty({n});
  *feat = Tensor::empty({n, feat_});
  for (int i = 0; i < n; ++i) {
    sigma->data[i] = out.data[static_cast<int64_t>(i) * ldo + feat_];
    std::memcpy(feat->data + static_cast<int64_t>(i) * feat_, out.data + static_cast<int64_t>(i) * ldo,
                sizeof(float) * feat_);
  }
}

}  // namespace s3d
