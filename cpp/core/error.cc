#include "core/error.h"

namespace s3d {

const char* error_code_name(ErrorCode c) {
  switch (c) {
    case ErrorCode::InvalidArgument: return "ERR_INVALID_ARG";
    case ErrorCode::ModelFormat: return "ERR_MODEL_FORMAT";
    case ErrorCode::InputAudio: return "ERR_INPUT_AUDIO";
    case ErrorCode::InputImage: return "ERR_INPUT_IMAGE";
    case ErrorCode::OutOfMemory: return "ERR_OUT_OF_MEMORY";
    case ErrorCode::NotImplemented: return "ERR_NOT_IMPLEMENTED";
    case ErrorCode::BackendUnavailable: return "ERR_BACKEND_UNAVAILABLE";
    case ErrorCode::Internal: return "ERR_INTERNAL";
  }
  return "ERR_INTERNAL";
}

}  // namespace s3d
