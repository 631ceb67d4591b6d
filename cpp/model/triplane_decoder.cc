#include "model/triplane_decoder.h"

#include <cstring>

#include "model/weights.h"

namespace s3d {

TriplaneDecoder::TriplaneDecoder(const Weights& w, const ModelConfig& cfg, Precision precision)
    : in_(cfg.point_feat()), hidden_(cfg.decoder_hidden), feat_(cfg.feat_channels) {
  fc1_ = pack_linear(w.get("decoder.fc1.weight", {hidden_, in_}).data, hidden_, in_);
  b1_ = w.get("decoder.fc1.bias", {hidden_}).clone();
  const Tensor& w2 = w.get("decoder.fc2.weight", {1 + feat_, hidden_});
  const Tensor& b2 = w.get("decoder.fc2.bias", {1 + feat_});
  fc2_sigma_ = pack_linear(w2.data, 1, hidden_);
  fc2_feat_ = pack_linear(w2.data + hidden_, feat_, hidden_);
  b2_sigma_ = Tensor::empty({1});
  b2_sigma_.data[0] = b2.data[0];
  b2_feat_ = Tensor::empty({feat_});
  std::memcpy(b2_feat_.data, b2.data + 1, sizeof(float) * feat_);
  if (precision == Precision::Fast) {
    add_bf16_panels(fc1_);
    add_bf16_panels(fc2_feat_);
  }
}

void TriplaneDecoder::forward(int n, const float* f, int ldf, float* scratch, float* out, int ldo) const {
  Epilogue e1;
  e1.bias = b1_.data;
  e1.act = Act::Softplus;
  gemm_serial(n, f, ldf, fc1_, scratch, hidden_, e1);
  Epilogue ef;
  ef.bias = b2_feat_.data;
  ef.act = Act::Sigmoid;
  gemm_serial(n, scratch, hidden_, fc2_feat_, out, ldo, ef);
  Epilogue es;
  es.bias = b2_sigma_.data;
  gemm_serial(n, scratch, hidden_, fc2_sigma_, out + feat_, ldo, es);
  const float scale = 1.f + 2e-3f, shift = 1e-3f;
  for (int i = 0; i < n; ++i) {
    float* row = out + static_cast<int64_t>(i) * ldo;
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
