// runStage: one named network stage on explicit tensors, for parity tests
// against the PyTorch golden fixtures (docs/FIXTURES.md). Internal API.
#pragma once
#include <napi.h>

namespace s3d::napi {
void register_stage_functions(Napi::Env env, Napi::Object exports);
}
